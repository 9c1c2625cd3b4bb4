"""Audio formats: G.711, streaming TTS output encoders, STT input decoders and file reading."""

from .convert import float_to_int16, int16_to_float
from .errors import AudioFormatError, UnknownFormatError
from .files import read_audio_file, sniff_container
from .g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from .input import INPUT_FORMATS, AudioDecoder, open_decoder
from .output import OUTPUT_FORMATS, AudioEncoder, OutputFormat, encode_complete, open_encoder
from .wav import wav_header

__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "AudioDecoder",
    "AudioEncoder",
    "AudioFormatError",
    "OutputFormat",
    "UnknownFormatError",
    "alaw_decode",
    "alaw_encode",
    "encode_complete",
    "float_to_int16",
    "int16_to_float",
    "open_decoder",
    "open_encoder",
    "read_audio_file",
    "sniff_container",
    "ulaw_decode",
    "ulaw_encode",
    "wav_header",
]
