#!/usr/bin/env python3
"""Fault drills (see bench/faults). Traffic goes to 127.0.0.1 only; every
drill is bounded (a fixed number of requests) and stops by itself."""
import argparse, json, os, signal, subprocess, sys, threading, time, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from drive import MASTER, MockLlm, Service, call, setup_sessions  # noqa: E402


def load(service, key, session, requests, pace, results):
    """Sends `requests` chat turns, `pace` seconds apart; records status, latency, message id."""
    for i in range(requests):
        body = json.dumps({"content": f"drill message {i}"}).encode()
        request = urllib.request.Request(f"{service.base}/v1/sessions/{session}/messages", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", "Bearer " + key)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = json.loads(response.read())
                results.append((response.status, time.monotonic() - started, payload["user_message"]["id"]))
        except urllib.error.HTTPError as error:
            results.append((error.code, time.monotonic() - started, None))
        except Exception:
            results.append((0, time.monotonic() - started, None))
        time.sleep(pace)


def stored_message_ids(database, session):
    out = subprocess.run(["psql", database, "-tAc", f"SELECT id FROM messages WHERE session_id = '{session}'"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def report(name, results, database, session, allowed):
    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    slow = sum(1 for _, seconds, _ in results if seconds > 1.0)
    acknowledged = [mid for status, _, mid in results if status == 201 and mid]
    stored = stored_message_ids(database, session)
    lost = [mid for mid in acknowledged if mid not in stored]
    unexpected = {s: n for s, n in statuses.items() if s not in allowed}
    verdict = "ok" if not lost and not unexpected else "FAILED"
    print(f"{name:<22} sent {len(results):>4}  statuses {dict(sorted(statuses.items()))}  slow>1s {slow:>3}  "
          f"acknowledged {len(acknowledged)}, lost {len(lost)}  -> {verdict}")
    return verdict == "ok"


def redis_pid():
    with open(os.environ["REDIS_PIDFILE"]) as f:
        return int(f.read().strip())


def drill(name, args, llm, fault, recover, allowed, extra_env=None):
    service = Service(args.binary, dict({"REDIS_URL": os.environ["REDIS_URL"]}, **(extra_env or {})), llm)
    try:
        key, _, sessions = setup_sessions(service, 1)
        results = []
        worker = threading.Thread(target=load, args=(service, key, sessions[0], args.requests, args.pace, results))
        worker.start()
        time.sleep(args.requests * args.pace * 0.3)
        fault()
        time.sleep(args.requests * args.pace * 0.3)
        recover()
        worker.join()
        return report(name, results, service.env["DATABASE_URL"], sessions[0], allowed)
    finally:
        service.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--mock-llm", required=True)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--pace", type=float, default=0.04)
    args = parser.parse_args()
    llm = MockLlm(args.mock_llm)
    ok = True
    try:
        redis_port = os.environ["REDIS_URL"].rsplit(":", 1)[1]

        def restart_redis():
            subprocess.run(["redis-server", "--port", redis_port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--daemonize", "yes", "--pidfile", os.environ["REDIS_PIDFILE"]], check=True)
            time.sleep(0.2)

        ok &= drill("kill -9 redis", args, llm, lambda: os.kill(redis_pid(), signal.SIGKILL), restart_redis, {201})
        ok &= drill("SIGSTOP redis", args, llm, lambda: os.kill(redis_pid(), signal.SIGSTOP),
                    lambda: os.kill(redis_pid(), signal.SIGCONT), {201})

        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # A clean stop (`-m fast`): the throwaway server runs with synchronous_commit=off,
        # so a crash-style stop could drop its last commits, which says nothing of VirLife.
        stop_command = os.environ["PG_STOP"].replace("-m immediate", "-m fast")
        stop_pg = lambda: subprocess.run(as_postgres + ["bash", "-c", stop_command], check=True, capture_output=True)
        start_pg = lambda: subprocess.run(as_postgres + ["bash", "-c", os.environ["PG_START"]], check=True, capture_output=True)
        ok &= drill("restart postgres", args, llm, stop_pg, start_pg, {201, 503},
                    {"DATABASE_ACQUIRE_TIMEOUT_SECONDS": "1"})

        if os.environ.get("QDRANT_URL"):
            print("stop qdrant            needs a Qdrant this script can stop; run it by hand (see README)")
        else:
            print("stop qdrant            SKIPPED: no QDRANT_URL (tests/api/qdrant_down.rs covers an unreachable Qdrant)")

        ok &= sigterm_mid_stream(args)
    finally:
        llm.stop()
    sys.exit(0 if ok else 1)


def sigterm_mid_stream(args):
    import asyncio
    from drive import one_stream
    llm = MockLlm(args.mock_llm, latency_ms=1500, tokens=5)
    service = Service(args.binary, {"SHUTDOWN_GRACE_SECONDS": "10"}, llm)
    try:
        key, _, sessions = setup_sessions(service, 10)

        async def run():
            tasks = [asyncio.create_task(one_stream(service.port, f"/v1/sessions/{sessions[i % 10]}/messages/stream", key, i))
                     for i in range(50)]
            await asyncio.sleep(0.5)
            service.process.send_signal(signal.SIGTERM)
            return await asyncio.gather(*tasks, return_exceptions=True)

        started = time.monotonic()
        outcomes = asyncio.run(run())
        code = service.process.wait(timeout=15)
        done = sum(1 for o in outcomes if o is True)
        verdict = "ok" if done == 50 and code == 0 else "FAILED"
        print(f"{'SIGTERM mid-stream':<22} streams 50  done {done}  exit {code} after {time.monotonic() - started:.1f} s  -> {verdict}")
        return verdict == "ok"
    finally:
        if service.process.poll() is None:
            service.stop()
        llm.stop()


if __name__ == "__main__":
    main()
