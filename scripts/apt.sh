# Sourced by install.sh and test.sh. apt_install PACKAGE...: install Debian packages as root, or
# through password-less sudo; fails (status 1) when neither is possible or apt-get fails.
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}
