"""One SFTP scenario with paramiko or asyncssh, for the real-client matrix (test/clients).

Usage: /usr/bin/python3 -W ignore sftp_scenario.py paramiko|asyncssh  < request.json
The request names the server, the key, the known_hosts file and the paths (see ScenarioPaths in
test/clients/drivers/types.ts). Prints one JSON line: {"ok": true, "version": ..., "listing": [...]}
or {"ok": false, "version": ..., "error": ...}; exit code 0 / 1. The host key is verified against
known_hosts (unknown or changed keys are rejected), never accepted blindly.
"""
import json
import sys
import traceback


def run_paramiko(req):
    import paramiko

    version = "paramiko " + paramiko.__version__
    client = paramiko.SSHClient()
    client.load_host_keys(req["knownHostsPath"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    disabled = {}
    sig = req.get("rsaSigAlg")
    if sig:
        # Leave exactly one RSA signature algorithm enabled.
        disabled["pubkeys"] = [a for a in ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa") if a != sig]
    key_class = {"ed25519": paramiko.Ed25519Key, "ecdsa": paramiko.ECDSAKey, "rsa": paramiko.RSAKey}[req["keyType"]]
    pkey = key_class.from_private_key_file(req["keyPath"])
    try:
        client.connect(
            req["host"],
            port=req["port"],
            username=req["user"],
            pkey=pkey,
            look_for_keys=False,
            allow_agent=False,
            timeout=20,
            banner_timeout=20,
            auth_timeout=20,
            disabled_algorithms=disabled,
        )
        sftp = client.open_sftp()
        p = req["paths"]
        sftp.put(req["localUpload"], p["upload"])
        listing = sftp.listdir(p["dir"])
        sftp.get(p["upload"], req["localDownload"])
        sftp.rename(p["upload"], p["renamed"])
        sftp.remove(p["deleteMe"])
        sftp.mkdir(p["mkdir"])
        sftp.rmdir(p["rmdir"])
        sftp.close()
        return version, listing
    finally:
        client.close()


def run_asyncssh(req):
    import asyncio
    import asyncssh

    version = "asyncssh " + asyncssh.__version__

    async def main():
        async with asyncssh.connect(
            req["host"],
            port=req["port"],
            username=req["user"],
            client_keys=[req["keyPath"]],
            known_hosts=req["knownHostsPath"],
            agent_path=None,
            config=[],
            connect_timeout=20,
        ) as conn:
            async with conn.start_sftp_client() as sftp:
                p = req["paths"]
                await sftp.put(req["localUpload"], p["upload"])
                listing = await sftp.listdir(p["dir"])
                await sftp.get(p["upload"], req["localDownload"])
                await sftp.rename(p["upload"], p["renamed"])
                await sftp.remove(p["deleteMe"])
                await sftp.mkdir(p["mkdir"])
                await sftp.rmdir(p["rmdir"])
                return listing

    return version, asyncio.run(main())


def main():
    which = sys.argv[1]
    req = json.load(sys.stdin)
    version = which
    runners = {"paramiko": run_paramiko, "asyncssh": run_asyncssh}
    try:
        if which not in runners:
            raise SystemExit("unknown library " + which)
        lib = __import__(which)
        version = "%s %s" % (which, lib.__version__)
        if req.get("versionOnly"):
            print(json.dumps({"ok": True, "version": version}))
            return 0
        version, listing = runners[which](req)
    except Exception as exc:  # report every failure as data, the test decides
        print(json.dumps({"ok": False, "version": version,
                          "error": "%s: %s" % (type(exc).__name__, exc),
                          "traceback": traceback.format_exc()}))
        return 1
    print(json.dumps({"ok": True, "version": version, "listing": sorted(listing)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
