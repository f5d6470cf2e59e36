#!/bin/sh
# Makes ROOT (the harness's overlay of the host, before systemd boots in it)
# look like a host that never had sandbox-service: what `make install`, the
# .deb and `create` put on the host are removed from the overlay, never from
# the host. The tests then start from the same view whatever the host has:
# an admin's sandboxes, an installed copy, its cron script and units.
# Usage: tests/harness/forget.sh ROOT
set -eu
R=$1
rm -rf "$R/etc/sandbox-service" "$R/var/lib/sandbox-service" "$R/run/sandbox-service"
for p in usr local; do
    base=$R/usr
    [ "$p" = local ] && base=$R/usr/local
    rm -f "$base/bin/sandbox-service" "$base/sbin/sandbox-service"
    rm -rf "$base/libexec/sandbox-service" "$base/share/sandbox-service" "$base/share/doc/sandbox-service"
    rm -f "$base"/share/man/man5/sandbox-service* "$base"/share/man/man8/sandbox-service*
    rm -f "$base/share/bash-completion/completions/sandbox-service" \
        "$base/share/zsh/site-functions/_sandbox-service" "$base/share/zsh/vendor-completions/_sandbox-service" \
        "$base/share/fish/vendor_completions.d/sandbox-service.fish"
    rm -f "$base"/lib/systemd/system/sandbox-service-logrotate.*
done
rm -f "$R/etc/cron.daily/sandbox-service" "$R"/lib/systemd/system/sandbox-service-logrotate.* \
    "$R"/etc/systemd/system/sandbox-service-logrotate.*
# The units create wrote: each says so on its first line.
for f in "$R"/etc/systemd/system/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    case "$(head -n1 "$f")" in "# Made by sandbox-service"*) rm -f "$f" ;; esac
done
# Links to what is gone (SVC@NAME.service in SVC-sandboxes.target.wants,
# the timer in timers.target.wants), resolved in ROOT, not in the host
# that still has them; then .wants directories left empty.
find "$R/etc/systemd/system" -type l 2>/dev/null | while read -r l; do
    t=$(readlink "$l")
    case "$t" in /*) t="$R$t" ;; *) t="$(dirname "$l")/$t" ;; esac
    [ -e "$t" ] || rm -f "$l"
done
find "$R/etc/systemd/system" -mindepth 1 -type d -name '*.wants' -empty -delete 2>/dev/null || true
# An installed .deb: dpkg must not know it either, or installing the one
# under test is an upgrade that asks about conffiles.
st=$R/var/lib/dpkg/status
if [ -f "$st" ] && grep -qx 'Package: sandbox-service' "$st"; then
    awk 'BEGIN { RS = ""; ORS = "\n\n" } $0 !~ /(^|\n)Package: sandbox-service\n/' "$st" > "$st.forget"
    mv "$st.forget" "$st"
    rm -f "$R"/var/lib/dpkg/info/sandbox-service.*
fi
