"""Run a list of SFTP operations with paramiko in one session, for the policy tests (test/policy).

Usage: /usr/bin/python3 -W ignore policy_ops.py  < request.json
The request names the server, the key, the known_hosts file (the host key is verified, never
accepted blindly) and `ops`, each {"op": NAME, ...arguments}. Every operation is tried whatever
the previous ones did; prints one JSON line {"ok": true, "results": [{"op", "ok", "errno",
"error", "value"}...]}, or {"ok": false, "error": ...} when the session itself failed.
"""
import json
import sys
import traceback


def run_op(sftp, op):
    name = op["op"]
    if name == "put":
        sftp.put(op["local"], op["remote"])
    elif name == "get":
        sftp.get(op["remote"], op["local"])
    elif name == "chdir":
        # REALPATH of the path: with ".", the start directory the server (or the proxy) gives.
        sftp.chdir(op["path"])
        return sftp.getcwd()
    elif name == "listdir":
        return sorted(sftp.listdir(op["path"]))
    elif name == "stat":
        return sftp.stat(op["path"]).st_size
    elif name == "remove":
        sftp.remove(op["path"])
    elif name == "rename":
        sftp.rename(op["from"], op["to"])
    elif name == "posix_rename":
        sftp.posix_rename(op["from"], op["to"])
    elif name == "mkdir":
        sftp.mkdir(op["path"])
    elif name == "rmdir":
        sftp.rmdir(op["path"])
    elif name == "chmod":
        sftp.chmod(op["path"], op["mode"])
    elif name == "chown":
        sftp.chown(op["path"], op["uid"], op["gid"])
    elif name == "utime":
        sftp.utime(op["path"], (op["time"], op["time"]))
    elif name == "truncate":
        sftp.truncate(op["path"], op["size"])
    elif name == "symlink":
        sftp.symlink(op["target"], op["path"])
    elif name == "open":
        # Open with a Python mode ('w', 'a', 'r+', 'x'...), write `data` if given, close.
        with sftp.open(op["path"], op["mode"]) as f:
            if "data" in op:
                f.write(op["data"].encode())
    elif name == "read":
        with sftp.open(op["path"], "r") as f:
            return f.read().decode("latin1")
    else:
        raise ValueError("unknown op " + name)
    return None


def main():
    import paramiko

    req = json.load(sys.stdin)
    client = paramiko.SSHClient()
    client.load_host_keys(req["knownHostsPath"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(req["host"], port=req["port"], username=req["user"],
                       pkey=paramiko.Ed25519Key.from_private_key_file(req["keyPath"]),
                       look_for_keys=False, allow_agent=False, timeout=20, banner_timeout=20, auth_timeout=20)
        sftp = client.open_sftp()
        results = []
        for op in req["ops"]:
            try:
                value = run_op(sftp, op)
                results.append({"op": op["op"], "ok": True, "value": value})
            except (IOError, OSError) as exc:
                results.append({"op": op["op"], "ok": False, "errno": exc.errno, "error": str(exc)})
        sftp.close()
    except Exception as exc:  # the session itself failed: the test says so
        print(json.dumps({"ok": False, "error": "%s: %s" % (type(exc).__name__, exc), "traceback": traceback.format_exc()}))
        return 1
    finally:
        client.close()
    print(json.dumps({"ok": True, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
