#!/bin/sh
# Deployment settings for pysftpproxy, as a container or service would set them.
# Source it (`. ./docker_properties.sh`) before `bin/pysftpproxy`, or pass the same names with
# `docker run -e`. Unset (commented) names take their defaults; flags override all of these.

# --- What to run -------------------------------------------------------------------------------
# proxy: route each user to the upstream SFTP server named in Redis; local: serve users' folders.
export SFTPPROXY_MODE=proxy
# Address and port clients connect to (local mode defaults to 2200).
export SFTPPROXY_LISTEN=0.0.0.0
export SFTPPROXY_PORT=5022
# Where users come from: redis (pysftpproxy schema), redis-solt, or file:/path/users.json.
# export SFTPPROXY_STORE=redis
# An INI file with an [options] section, read before the environment.
# export SFTPPROXY_CONFIG=/etc/pysftpproxy.ini

# --- The proxy's own identity --------------------------------------------------------------------
# Host key clients see. Unset: an ed25519 key is generated once into SFTPPROXY_DATA_DIR and reused.
# export SFTPPROXY_PRIVATEKEY_PATH=/etc/pysftpproxy/ssh_host_ed25519_key
# export SFTPPROXY_PUBLICKEY_PATH=/etc/pysftpproxy/ssh_host_ed25519_key.pub
export SFTPPROXY_DATA_DIR=/var/lib/pysftpproxy

# --- Upstream logins (proxy mode) ------------------------------------------------------------------
# Private key the proxy logs in upstream with; its public half goes in each upstream's authorized_keys.
# Unset: ~/.ssh/id_ed25519, then ~/.ssh/id_rsa.
export SFTPPROXY_CLIENT_KEY_PATH=/etc/pysftpproxy/upstream_ed25519
# Upstream login name when a route names none.
export SFTPPROXY_CLIENT_USER=root
# Upstream start directory when a route names none (unset: the upstream's choice).
# export SFTPPROXY_HOME=/data
# Upstream host keys: tofu (pin the first key seen, in Redis), strict (known_hosts or route hostkey), off.
export SFTPPROXY_UPSTREAM_HOSTKEYS=tofu
# export SFTPPROXY_KNOWN_HOSTS=/etc/pysftpproxy/known_hosts
# Seconds to connect and log in upstream before the client is told it is unavailable.
export SFTPPROXY_CONNECT_TIMEOUT=10

# --- Redis ---------------------------------------------------------------------------------------------
export SFTPPROXY_REDIS_HOST=redis
export SFTPPROXY_REDIS_PORT=6379
export SFTPPROXY_REDIS_DB=1
# export SFTPPROXY_REDIS_PASSWORD=change-me
# Alternative to the four above: redis://[:password@]host:port/db
# export SFTPPROXY_REDIS_URL=redis://redis:6379/1
# Redis Sentinel instead of a fixed address: the sentinels name the master, and every connection
# follows a failover (REDIS_HOST/PORT/URL are then not used; REDIS_DB and REDIS_PASSWORD are the master's).
# export SFTPPROXY_REDIS_SENTINELS=sentinel-1:26379,sentinel-2:26379,sentinel-3:26379
# export SFTPPROXY_REDIS_SENTINEL_NAME=pysftpproxy
# The sentinels' own password (their requirepass), if they have one.
# export SFTPPROXY_REDIS_SENTINEL_PASSWORD=change-me-too
# Pub/sub channel on which `pysftpproxy users|keys` announce changes: user names in proxy mode
# (default pysftpproxy:changes), solt user ids in local mode (default sftp_users). Leave it unset
# unless the admin side and the servers agree on another name.
# export SFTPPROXY_REDIS_CHANNEL=pysftpproxy:changes

# --- Local mode ----------------------------------------------------------------------------------------
# Parent directory of the users' folders.
export SFTPPROXY_SFTP_PATH=/opt/solt_sftp/files
# Open file handles per SFTP session.
export SFTPPROXY_MAX_HANDLES=256
# Descriptors one user's handles may hold across all their connections (a listing holds two);
# all users together get three quarters of the process's open-files limit (ulimit -n).
export SFTPPROXY_MAX_HANDLES_PER_USER=1024

# --- Limits, logs, process -------------------------------------------------------------------------------
# Processes sharing the port: one event loop moves about 400-500 MiB/s; use up to one per core.
export SFTPPROXY_WORKERS=1
# Seconds a connection may take to authenticate.
export SFTPPROXY_LOGIN_GRACE_TIME=30
# Refused authentication attempts (key offers included) before the connection is closed.
export SFTPPROXY_MAX_AUTH_TRIES=6
# Connections not logged in yet, held at once (past it new ones are closed at accept).
export SFTPPROXY_MAX_STARTUPS=100
# Connections one client address may hold at once (0: unlimited), across workers and instances.
export SFTPPROXY_MAX_CONNECTIONS_PER_IP=0
# Connections the whole server holds at once (0: unlimited), across workers and instances.
export SFTPPROXY_MAX_CONNECTIONS=0
# Logged-in connections per user (0: unlimited), across workers and instances.
export SFTPPROXY_MAX_SESSIONS_PER_USER=0
# Seconds without SFTP traffic before a session is closed, and a logged-in connection with no
# session (0: never).
export SFTPPROXY_IDLE_TIMEOUT=900
# On SIGTERM: seconds live transfers may go on before they are closed.
export SFTPPROXY_DRAIN_TIMEOUT=30
# Permissions of users whose entry names none: *, read-only, or a list (list,download,upload,...).
export SFTPPROXY_PERMISSIONS=*
# Proxy mode: read the SFTP packets that pass (permissions, audit); off pipes them blind.
export SFTPPROXY_SFTP_FILTER=on
# Audit events (one per file operation) go to the log; also to this Redis stream when set.
# export SFTPPROXY_AUDIT_STREAM=pysftpproxy:audit
export SFTPPROXY_AUDIT_STREAM_MAXLEN=100000

# --- Behind a load balancer, watched -----------------------------------------------------------
# Balancers (addresses/CIDRs) that send a PROXY protocol v1/v2 header with the real client address.
# export SFTPPROXY_PROXY_PROTOCOL_FROM=10.0.0.10,10.0.0.11
# Admin HTTP endpoint: /metrics (Prometheus), /healthz, /readyz. Off when unset; keep it private.
# export SFTPPROXY_ADMIN_LISTEN=127.0.0.1:9122

# --- Brute-force defender ----------------------------------------------------------------------
# on/off; an address scoring the threshold within the window is banned for the ban time.
export SFTPPROXY_DEFENDER=on
export SFTPPROXY_DEFENDER_WINDOW=1800
export SFTPPROXY_DEFENDER_THRESHOLD=15
export SFTPPROXY_DEFENDER_BAN_TIME=1800
# Never banned (monitoring, offices). Behind a balancer without PROXY protocol every client has its
# address: list it here or enable SFTPPROXY_PROXY_PROTOCOL_FROM.
# export SFTPPROXY_DEFENDER_ALLOW=192.0.2.0/24
# Ciphers offered to clients, comma-separated (the client's preference picks); unset: ssh2's list
# (aes128-gcm, aes256-gcm, aes128-ctr, aes192-ctr, chacha20-poly1305, aes256-ctr; no CBC).
# export SFTPPROXY_CIPHERS=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com
# Key exchanges offered; unset: curve25519 and ECDH only (the diffie-hellman-* groups cost 10-100x
# the CPU per handshake; add e.g. diffie-hellman-group14-sha256 for very old clients).
# export SFTPPROXY_KEX=curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256
export SFTPPROXY_LOG_LEVEL=info
# Human-readable logs instead of JSON lines.
export SFTPPROXY_LOG_PRETTY=false
# export SFTPPROXY_LOGFILE=/var/log/pysftpproxy.log
# export SFTPPROXY_PIDFILE=/run/pysftpproxy.pid
# Started as root (to bind port 22): switch to this user and group after binding.
# export SFTPPROXY_USERID=sftpproxy
# export SFTPPROXY_GROUPID=sftpproxy
