#!/bin/sh
# Removes the cgroups and the /etc copy start.sh made for a harness that
# has ended (its processes may take a moment to be gone).
# Usage: cleanup.sh LIST_FILE
list=$1
# start.sh's copy of /etc, which the harness had as its own.
rm -rf "${list%.cgroups}.etc"
[ -f "$list" ] || exit 0
for _ in $(seq 100); do
    left=0
    while read -r dir; do
        [ -d "$dir" ] || continue
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$dir" ] && left=1
    done < "$list"
    [ "$left" = 0 ] && { rm -f "$list"; exit 0; }
    sleep 0.05
done
echo "cleanup: cgroups of the harness are still in use: $(cat "$list")" >&2
exit 1
