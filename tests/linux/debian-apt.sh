# Sourced by fetch.sh and fetch-crash.sh: a private apt for Debian trixie riscv64.
#
# The host's apt configuration is never touched: apt runs with its own source list,
# state directory and cache under $CACHE/apt. The mirror is taken from the host's own
# Debian source list (or $HALTPOINT_DEBIAN_MIRROR).
#
# Sets CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/haltpoint), APT and apt_opts, and
# defines debian_apt_update (finds the mirror, writes the source list, updates the lists,
# retrying while the mirror is mid-sync).
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
    # A mirror caught mid-sync (or a caching proxy in front of it) can serve a Packages
    # file that does not match the InRelease it serves: apt-get update then refuses it.
    # Try again once; if it still fails, take the Packages file that is served, without
    # the InRelease check. The sources are trusted=yes anyway, and apt-get download
    # still checks each .deb against that Packages file.
    tries=0
    while :; do
        tries=$((tries + 1))
        # shellcheck disable=SC2086
        if apt-get $apt_opts update > "$APT/update.log" 2>&1; then
            grep -v "unsandboxed" "$APT/update.log" >&2 || true
            return 0
        fi
        grep -v "unsandboxed" "$APT/update.log" >&2 || true
        [ "$tries" -lt "${HALTPOINT_APT_TRIES:-2}" ] || break
        echo "$0: apt-get update failed (try $tries); trying again in 20 s" >&2
        sleep 20
    done
    echo "$0: apt-get update failed $tries times: using the index the mirror serves, unchecked" >&2
    lists=$APT/lists/$(echo "$mirror" | sed 's|^[a-z]*://||; s|/*$||; s|/|_|g')_dists_trixie
    for f in InRelease main/binary-riscv64/Packages.xz; do
        # shellcheck disable=SC2086
        /usr/lib/apt/apt-helper $apt_opts download-file "$mirror/dists/trixie/$f" "$APT/fallback.tmp" >&2 ||
            { echo "$0: cannot fetch $mirror/dists/trixie/$f" >&2; exit 1; }
        case "$f" in
            *.xz) xz -dc "$APT/fallback.tmp" > "${lists}_main_binary-riscv64_Packages" ||
                { echo "$0: $f does not decompress" >&2; exit 1; } ;;
            *) mv "$APT/fallback.tmp" "${lists}_InRelease" ;;
        esac
    done
    rm -f "$APT/fallback.tmp"
}
