"""make faults, scenario `webhooks` (API.md §11: at least once, whatever dies).

A receiver on loopback (verifying every signature with the `standardwebhooks` package) takes the
deliveries of one endpoint while 8 writers create, update and delete contacts for 60 s; meanwhile
`crm serve` is killed with -9 and restarted twice, and PostgreSQL is killed with -9 (with all its
processes) and restarted once. Afterwards every event the database committed (`contact_changes`)
must have reached the receiver (0 lost), nothing may arrive that the database does not hold (a
rolled-back change has no event), every signature must verify; duplicates are counted and printed.
"""
import http.client
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from faults import HTTP_PORT, REPO, Failure, check, request, wait_until

sys.path.insert(0, os.path.join(REPO, ".build", "python"))  # where make test installs the package
from standardwebhooks import Webhook  # noqa: E402

RECEIVER_PORT = 18188
WRITE_SECONDS = int(os.environ.get("WEBHOOK_FAULT_SECONDS", "60"))


class Receiver:
    """Records each delivery's webhook-id (and whether its signature verified); answers 204."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids, self.types, self.invalid = [], {}, 0
        self.secret = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: libcurl reuses its connections

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name: self.headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
                try:
                    Webhook(receiver.secret).verify(body.decode(), headers)
                    valid = True
                except Exception:
                    valid = False
                with receiver.lock:
                    receiver.ids.append(headers["webhook-id"])
                    receiver.types[headers["webhook-id"]] = json.loads(body)["type"] if valid else None
                    receiver.invalid += 0 if valid else 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *arguments):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a connection cut by `crm serve`'s kill -9: expected here

        self.server = Server(("127.0.0.1", RECEIVER_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class Serve:
    """`crm serve` started, killed with -9 and started again on the same database."""

    def __init__(self, binary, cluster):
        self.binary, self.cluster = binary, cluster
        self.env = dict(os.environ, DATABASE_URL=cluster.url, CRM_WEBHOOK_RETRY_SCHEDULE="1,1,2,2,5,5,10,10,20,20")
        self.log = open(os.path.join(cluster.root, "serve.log"), "w")
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.binary, "serve", "--host", "127.0.0.1", "--port", str(HTTP_PORT), "--pool-size", "8",
                                         "--webhook-allow-private"], env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        wait_until(lambda: self._healthy(), 30, "crm serve did not start")

    def _healthy(self):
        try:
            return request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)
        self.log.close()


def writer(worker, key, stop, counts, lock):
    """Creates, updates and deletes its own contacts until `stop`."""
    rng, mine, connection = random.Random(worker), [], None
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.5 or not mine:
            method, body = "POST", f"email=w{worker}-{rng.getrandbits(40)}@example.com"
        elif roll < 0.8:
            method, body = "PUT", f"id={rng.choice(mine)}&first_name=n{rng.getrandbits(20)}"
        else:
            method, body = "DELETE", f"id={mine.pop(rng.randrange(len(mine)))}"
        try:
            connection = connection or http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
            status, _, data, _ = request(method, "/crm/1", body, key, connection=connection)
        except (OSError, http.client.HTTPException):
            connection, status = None, None
            time.sleep(0.05)
        if method == "POST" and status == 201:
            mine.append(json.loads(data)["data"]["contact"]["contact_id"])
        with lock:
            counts[status] = counts.get(status, 0) + 1


def webhooks(binary, cluster):
    env = dict(os.environ, DATABASE_URL=cluster.url)
    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    key = subprocess.run([binary, "key", "create", "--listing", "1", "--name", "faults"], env=env, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    receiver = Receiver()
    added = subprocess.run([binary, "webhook", "add", "--listing", "1", "--url", f"http://127.0.0.1:{RECEIVER_PORT}/hook",
                            "--webhook-allow-private"], env=env, check=True, stdout=subprocess.PIPE, text=True)
    receiver.secret = added.stdout.strip().splitlines()[-1]
    serve = Serve(binary, cluster)
    serve.start()
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    threads = [threading.Thread(target=writer, args=(n, key, stop, counts, lock)) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        started = time.monotonic()
        for at, fault in [(0.2 * WRITE_SECONDS, "serve"), (0.45 * WRITE_SECONDS, "postgres"), (0.7 * WRITE_SECONDS, "serve")]:
            time.sleep(max(0, started + at - time.monotonic()))
            if fault == "serve":
                serve.kill()
                time.sleep(0.5)
                serve.start()
            else:
                cluster.kill_all()
                time.sleep(2)
                cluster.start()
        time.sleep(max(0, started + WRITE_SECONDS - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    try:
        committed = set(cluster.sql("SELECT 'evt_' || seq FROM contact_changes WHERE listing_id = 1").split())
        stopped, backlog = time.monotonic(), len(committed - set(receiver.ids))
        wait_until(lambda: committed <= set(receiver.ids), 300,
                   lambda: f"{len(committed - set(receiver.ids))} committed events not delivered; crm serve's log ends: "
                           + " | ".join(open(serve.log.name).read().splitlines()[-5:]))
        drained = time.monotonic() - stopped
        time.sleep(2)
    finally:
        serve.stop()
        receiver.stop()
    received = list(receiver.ids)
    unique = set(received)
    lost = committed - unique
    phantom = unique - committed
    print(f"  8 writers for {WRITE_SECONDS} s; crm serve killed -9 twice, PostgreSQL killed -9 once; answers {dict(sorted(counts.items(), key=str))}")
    print(f"  events committed: {len(committed)}; delivered: {len(unique)} ({len(received)} requests, "
          f"{len(received) - len(unique)} duplicates); lost: {len(lost)}; not in the database: {len(phantom)}; "
          f"invalid signatures: {receiver.invalid}")
    print(f"  when the writers stopped {backlog} events were still to deliver; all delivered {drained:.1f} s later")
    check(len(committed) > 1000, f"too few writes to prove anything: {len(committed)}")
    check(not lost, f"committed events never delivered, e.g. {sorted(lost)[:3]}")
    check(not phantom, f"deliveries of events the database does not hold, e.g. {sorted(phantom)[:3]}")
    check(receiver.invalid == 0, f"{receiver.invalid} deliveries failed signature verification")
