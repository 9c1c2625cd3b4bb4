// Audio helpers: base64 <-> bytes, a streaming PCM player on Web Audio, WAV files, mic capture.

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes) {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

// Plays 16-bit little-endian mono PCM as it arrives: each chunk is scheduled right after the
// previous one, so playback starts with the first chunk, not when the stream ends.
export class PcmPlayer {
  constructor(sampleRate) {
    this.sampleRate = sampleRate;
    this.context = new AudioContext();
    this.nextTime = 0;
    this.startTime = null;
    this.carry = null; // an odd byte left over from the previous chunk
    this.chunks = [];
  }

  push(bytes) {
    if (this.carry) {
      const joined = new Uint8Array(this.carry.length + bytes.length);
      joined.set(this.carry);
      joined.set(bytes, this.carry.length);
      bytes = joined;
      this.carry = null;
    }
    if (bytes.length % 2) {
      this.carry = bytes.slice(bytes.length - 1);
      bytes = bytes.slice(0, bytes.length - 1);
    }
    if (!bytes.length) return;
    this.chunks.push(bytes);
    const samples = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    const buffer = this.context.createBuffer(1, samples.length, this.sampleRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i += 1) channel[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const now = this.context.currentTime;
    if (this.startTime === null || this.nextTime < now) {
      // First chunk, or the stream fell behind playback: (re)start a little ahead of now.
      const at = now + 0.05;
      if (this.startTime === null) this.startTime = at;
      else this.startTime += at - this.nextTime;
      this.nextTime = at;
    }
    source.start(this.nextTime);
    this.nextTime += buffer.duration;
  }

  // Seconds of the stream played so far (for word highlighting); null before it starts.
  get position() {
    if (this.startTime === null) return null;
    return this.context.currentTime - this.startTime;
  }

  get pcm() {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  close() {
    this.context.close();
  }
}

export function wavFile(pcm, sampleRate) {
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, value) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + pcm.length, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true);
  header.setUint16(22, 1, true);
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, pcm.length, true);
  return new Blob([header.buffer, pcm], { type: "audio/wav" });
}

export function floatToPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? s * 32768 : s * 32767;
  }
  return new Uint8Array(out.buffer);
}

// Any file the browser can decode, as 16-bit mono PCM at `rate` Hz.
export async function decodeToPcm(file, rate) {
  const data = await file.arrayBuffer();
  const probe = new AudioContext();
  const decoded = await probe.decodeAudioData(data);
  probe.close();
  const frames = Math.ceil(decoded.duration * rate);
  const offline = new OfflineAudioContext(1, frames, rate);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const rendered = await offline.startRendering();
  return { pcm: floatToPcm16(rendered.getChannelData(0)), duration: decoded.duration };
}

// The microphone as 16-bit mono PCM chunks at `rate` Hz; call stop() to end.
export async function captureMicrophone(rate, onChunk) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
  const context = new AudioContext({ sampleRate: rate });
  const source = context.createMediaStreamSource(stream);
  // ScriptProcessor needs no extra module file; 4096 frames at 24 kHz is 170 ms.
  const processor = context.createScriptProcessor(4096, 1, 1);
  processor.onaudioprocess = (event) => onChunk(floatToPcm16(event.inputBuffer.getChannelData(0)));
  source.connect(processor);
  processor.connect(context.destination);
  return {
    stop() {
      processor.disconnect();
      source.disconnect();
      stream.getTracks().forEach((track) => track.stop());
      context.close();
    },
  };
}

export function download(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
