#!/bin/bash
# Inside the throwaway systemd (tests/harness/in-systemd.sh): installs the
# .deb with apt and runs the README's apache2 quick start from it.
# Usage: packaging/check-deb.sh PATH/TO/sandbox-service_*.deb
set -euxo pipefail
deb=$1
apt-get install -y -q --no-install-recommends "$deb"
test -x /usr/libexec/sandbox-service/sandbox-service-init
systemctl cat sandbox-service-logrotate.timer > /dev/null
man -w sandbox-service > /dev/null
sandbox-service create -u apache2 web1
grep -q "ExecStart=/usr/bin/sandbox-service run web1" /etc/systemd/system/apache2@web1.service
echo 'from the installed package' > /var/lib/sandbox-service/web1/tree/var/www/html/index.html
sandbox-service start web1
test "$(curl -sS http://127.0.0.1/)" = 'from the installed package'
# grep without -q reads to the end: under pipefail an early exit would
# fail the pipeline on its writer's SIGPIPE, not on what it found.
sandbox-service status web1 | grep 'running:' > /dev/null
sandbox-service execute web1 -- apache2ctl -t
sandbox-service stop web1
sandbox-service delete web1
apt-get remove -y -q sandbox-service
echo "check-deb: ok"
