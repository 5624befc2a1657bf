#!/bin/sh
# syndicator: the CLI beside the service. Installed to /usr/local/bin/syndicator by install.sh.
# Runs /opt/syndicator/syndicator with the service's environment (/etc/syndicator/syndicator.env and, read as root,
# secrets.env) as the user that owns the service's state folder, so a verb reads the same configuration and
# database and every file it creates is one the service can use. Refuses any other user.
# The SYNDICATOR_* variables below exist so the tests can point it at temporary folders.
set -eu
prefix=${SYNDICATOR_PREFIX:-/opt/syndicator}
config_dir=${SYNDICATOR_CONFIG_DIR:-/etc/syndicator}
state_dir=${SYNDICATOR_STATE_DIR:-/var/lib/syndicator}

if [ ! -d "$state_dir" ]; then
    echo "syndicator: the service's state folder $state_dir does not exist; install with config/deploy/install.sh first." >&2
    exit 2
fi
owner_uid=$(stat -c %u "$state_dir")
owner=$(stat -c %U "$state_dir")
me=$(id -u)
if [ "$me" != 0 ] && [ "$me" != "$owner_uid" ]; then
    echo "syndicator: $state_dir belongs to $owner (uid $owner_uid), and you are $(id -un) (uid $me): files this run created could not be used by the service." >&2
    echo "syndicator: run it as root (sudo syndicator $*), which switches to $owner, or as $owner." >&2
    exit 2
fi

# KEY=value lines, optionally "quoted"; comments and blank lines skipped. Read here rather than sourced, so a value
# with $ or ` in it (a secret) is taken as written, the way systemd's EnvironmentFile= takes it.
load() {
    [ -r "$1" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        key=${line%%=*}
        value=${line#*=}
        case "$value" in \"*\") value=${value#\"}; value=${value%\"} ;; esac
        export "$key=$value"
    done < "$1"
}
load "$config_dir/syndicator.env"
if [ "$me" = 0 ]; then
    load "$config_dir/secrets.env"
elif [ -e "$config_dir/secrets.env" ]; then
    echo "syndicator: $config_dir/secrets.env is readable by root only; verbs that need a secret will say which one is missing (run with sudo to have them)." >&2
fi

cd "$state_dir"
if [ "$me" = 0 ] && [ "$owner_uid" != 0 ]; then
    exec setpriv --reuid="$owner_uid" --regid="$(stat -c %g "$state_dir")" --clear-groups --inh-caps=-all -- "$prefix/syndicator" "$@"
fi
exec "$prefix/syndicator" "$@"
