#!/bin/sh
# Installs a self-contained Syndicator build as a systemd service. From a checkout:
#   dotnet publish src/Syndicator/Syndicator.csproj -c Release -r linux-x64 --self-contained -p:PublishReadyToRun=true -o out/syndicator
#   sudo config/deploy/install.sh out/syndicator
# Puts the build in /opt/syndicator (root's, read-only to the service), the configuration in /etc/syndicator
# (appsettings.json and templates kept if present; secrets.env root-only), the state in /var/lib/syndicator (owned by
# the system user syndicator, created here), the unit in /etc/systemd/system and the CLI wrapper in
# /usr/local/bin/syndicator. Run it again with a newer build to upgrade: configuration and state are kept.
# The SYNDICATOR_* variables exist so the tests can install into temporary folders.
set -eu
if [ $# -ne 1 ] || [ ! -x "$1/syndicator" ]; then
    echo "usage: install.sh PUBLISH_FOLDER (the folder dotnet publish -r linux-x64 --self-contained wrote, with the syndicator executable in it)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run it as root (it creates a system user and writes to /opt, /etc and /var/lib)." >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
prefix=${SYNDICATOR_PREFIX:-/opt/syndicator}
config_dir=${SYNDICATOR_CONFIG_DIR:-/etc/syndicator}
state_dir=${SYNDICATOR_STATE_DIR:-/var/lib/syndicator}
bin_dir=${SYNDICATOR_BIN_DIR:-/usr/local/bin}
unit_dir=${SYNDICATOR_UNIT_DIR:-/etc/systemd/system}
user=${SYNDICATOR_USER:-syndicator}

if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --home-dir "$state_dir" --no-create-home --shell /usr/sbin/nologin --user-group "$user"
fi

# The build: replaced whole, so no file of an older version stays behind.
rm -rf "$prefix.new"
cp -a "$build" "$prefix.new"
chown -R root:root "$prefix.new"
chmod -R u=rwX,go=rX "$prefix.new"
rm -rf "$prefix.old"
[ -d "$prefix" ] && mv "$prefix" "$prefix.old"
mv "$prefix.new" "$prefix"
rm -rf "$prefix.old"

# Configuration: the shipped defaults only where there is nothing yet; an operator's edits are kept.
install -d -m 755 "$config_dir" "$config_dir/config"
[ -e "$config_dir/appsettings.json" ] || install -m 644 "$prefix/appsettings.json" "$config_dir/appsettings.json"
[ -d "$config_dir/config/templates" ] || cp -r "$prefix/config/templates" "$config_dir/config/templates"
[ -e "$config_dir/syndicator.env" ] || install -m 644 "$here/syndicator.env" "$config_dir/syndicator.env"
[ -e "$config_dir/secrets.env" ] || install -m 600 /dev/null "$config_dir/secrets.env"
chown root:root "$config_dir/secrets.env"
chmod 600 "$config_dir/secrets.env"

install -d -m 755 "$bin_dir" "$unit_dir"
install -d -m 750 -o "$user" -g "$(id -g "$user")" "$state_dir"
install -m 755 "$here/syndicator.sh" "$bin_dir/syndicator"
install -m 644 "$here/syndicator.service" "$unit_dir/syndicator.service"

if [ -z "${SYNDICATOR_UNIT_DIR:-}" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "Installed. Edit $config_dir/appsettings.json and $config_dir/secrets.env, then: systemctl enable --now syndicator"
else
    echo "Installed (systemd not running here: enable the unit yourself)."
fi
echo "Check the configuration as the service will read it: sudo syndicator config check"
