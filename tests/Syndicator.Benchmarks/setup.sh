#!/bin/sh
# Installs the peers the benchmark compares Syndicator with (Debian 12 packages): Postfix's smtp-sink and
# smtp-source, Hugo, wrk, and nginx (nginx-light has gzip_static). Nothing is started or enabled: the benchmark
# runs each peer itself on a loopback port and stops it. Run as root, or with sudo.
set -eu
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself as a mail server; it is only here for its test programs.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update
apt-get install -y --no-install-recommends postfix hugo wrk nginx-light
# Debian starts services it installs where it can; the benchmark wants neither listening on the machine.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now nginx postfix 2>/dev/null || true
fi
for tool in smtp-sink smtp-source hugo wrk nginx; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "setup.sh: $tool is still missing" >&2; exit 1; }
done
echo "setup.sh: smtp-sink, smtp-source, hugo, wrk and nginx are installed"
