#!/usr/bin/env bash
# Debian packages the tests drive for real: upstream sshd and clients, redis and redis-sentinel
# (the failover tests), every SFTP client in the compatibility matrix, HAProxy (the PROXY protocol
# and scale-out recipe), promtool (from prometheus) to check /metrics, systemd-analyze (checks
# deploy/pysftpproxy.service), OpenSSH's own regression suite (openssh-tests: its sftp*.sh scripts
# run direct and through the proxy in test/regress; 3.6 MB download, 24 MB installed with the
# python3-twisted it depends on, about 12 s), and the toolchain that builds ssh2's native crypto
# binding at npm ci.
# Used by .ci/run; run it yourself (as root or with sudo) before `npm test` on a fresh machine.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  openssh-server openssh-sftp-server openssh-client openssh-tests redis-server redis-sentinel systemd \
  putty-tools lftp curl rclone sshfs fuse3 python3-paramiko python3-asyncssh haproxy prometheus \
  g++ make python3 ca-certificates >/dev/null
# sshd wants its privilege-separation directory; Debian creates it only when the service runs.
$SUDO mkdir -p /run/sshd
