# Sourced by fetch.sh and fetch-crash.sh: a private apt for Debian trixie riscv64.
#
# The host's apt configuration is never touched: apt runs with its own source list,
# state directory and cache under $CACHE/apt. The mirror is taken from the host's own
# Debian source list (or $HALTPOINT_DEBIAN_MIRROR).
#
# Sets CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/haltpoint), APT and apt_opts, and
# defines debian_apt_update (finds the mirror, writes the source list, updates the lists).
# Use apt as `apt-get $apt_opts ...` / `apt-cache $apt_opts ...` (unquoted: word split).

CACHE=${HALTPOINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/haltpoint}
APT=$CACHE/apt
apt_opts="-o Dir::Etc::SourceList=$APT/sources.list -o Dir::Etc::SourceParts=/dev/null
 -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=$APT/etc/preferences.d
 -o Dir::State::Lists=$APT/lists -o Dir::State::Status=/dev/null
 -o Dir::Cache=$APT -o Dir::Cache::Archives=$APT/archives
 -o APT::Architectures::=riscv64 -o APT::Architecture=riscv64
 -o Debug::NoLocking=1 -o Acquire::Languages=none"

debian_apt_update() {
    mirror=${HALTPOINT_DEBIAN_MIRROR:-}
    if [ -z "$mirror" ]; then
        mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
            /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
    fi
    if [ -z "$mirror" ]; then
        mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)[[:space:]].*/\2/p' \
            /etc/apt/sources.list 2>/dev/null | head -n 1)
    fi
    [ -n "$mirror" ] || { echo "$0: no Debian mirror found; set HALTPOINT_DEBIAN_MIRROR" >&2; exit 1; }
    mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc/preferences.d"
    echo "deb [arch=riscv64 trusted=yes] $mirror trixie main" > "$APT/sources.list"
    # shellcheck disable=SC2086
    apt-get $apt_opts update 2>&1 | grep -v "unsandboxed" >&2 || true
}
