"""make faults, scenario `imports` (API.md §12: an interrupted import finishes after the restart
without applying any row twice).

One file of 200,000 rows (upserts: new contacts, rows updating an earlier row of the file, and 5 %
bad rows of several kinds) is imported three times by `crm serve` (chunks of 10,000 rows):
into listing 1 undisturbed, into listing 2 while `crm serve` is killed -9 mid-job and restarted,
into listing 3 while PostgreSQL is killed -9 (with all its processes) mid-job and restarted.
Afterwards the three listings must hold the same contacts (ids aside), the three jobs the same
counts and the same rejected rows, and each listing exactly one `contact.created` event per
contact (a chunk applied twice would create twice, or record its events twice).
"""
import http.client
import json
import os
import subprocess
import time

from faults import HTTP_PORT, Failure, Server, check, wait_until

ROWS = int(os.environ.get("IMPORT_FAULT_ROWS", "200000"))
SERVE_ARGUMENTS = ("--import-workers", "1")


def csv_file():
    lines = ["email,phone,first_name,last_name"]
    for row in range(1, ROWS + 1):
        if row % 20 == 0:
            kind = (row // 20) % 4
            lines.append([f"bad{row}", ",12,,", ",,Nobody,", f"dup{row},x,y,z,w"][kind] if kind else f"bad{row},,,")
        elif row % 7 == 0:
            lines.append(f"c{row - 1}@example.com,,Updated {row},")  # the row before it, updated
        else:
            lines.append(f"c{row}@example.com,+1 555 {row:07d},First {row},Last {row}")
    return ("\n".join(lines) + "\n").encode()


def upload(key, listing, body):
    connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=120)
    connection.request("POST", f"/crm/{listing}/imports", body=body,
                       headers={"Authorization": "Bearer " + key, "Content-Type": "text/csv"})
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    check(response.status == 202, f"upload answered {response.status}: {data}")
    return data["data"]["import"]["import_id"]


def progress(cluster, import_id):
    return cluster.sql(f"SELECT status || ' ' || applied_through FROM import_jobs WHERE import_id = {import_id}")


def finished(cluster, import_id):
    try:
        return progress(cluster, import_id).startswith("completed")
    except subprocess.CalledProcessError:
        return False  # PostgreSQL still restarting


def wait_mid_job(cluster, import_id):
    wait_until(lambda: int(progress(cluster, import_id).split()[1]) >= 10_000, 120, "the job to get going")
    check(not finished(cluster, import_id), "the job finished before it could be interrupted")


def outcome(cluster, listing, import_id):
    return {
        "table": cluster.sql(f"SELECT md5(string_agg(concat_ws('|', email, phone, first_name, last_name), ',' ORDER BY email)) "
                             f"FROM contacts WHERE listing_id = {listing}"),
        "counts": cluster.sql(f"SELECT concat_ws(' ', rows, created, updated, rejected) FROM import_jobs WHERE import_id = {import_id}"),
        "errors": cluster.sql(f"SELECT md5(string_agg(concat_ws('|', row_no, outcome, code, parameter), ',' ORDER BY row_no)) "
                              f"FROM import_errors WHERE import_id = {import_id}"),
        "created events": cluster.sql(f"SELECT count(*) FROM contact_changes WHERE listing_id = {listing} "
                                      f"AND change_type = 'contact.created'"),
        "contacts": cluster.sql(f"SELECT count(*) FROM contacts WHERE listing_id = {listing}"),
    }


def imports(binary, cluster):
    body = csv_file()
    server = Server(binary, cluster, *SERVE_ARGUMENTS)
    env = dict(os.environ, DATABASE_URL=cluster.url)
    keys = {1: server.key}
    for listing in (2, 3):
        keys[listing] = subprocess.run([binary, "key", "create", "--listing", str(listing)], env=env, check=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    try:
        started = time.monotonic()
        reference = upload(keys[1], 1, body)
        wait_until(lambda: finished(cluster, reference), 300, "the undisturbed import to finish")
        print(f"  undisturbed: {ROWS} rows in {time.monotonic() - started:.1f} s", flush=True)

        killed_server = upload(keys[2], 2, body)
        wait_mid_job(cluster, killed_server)
        server.process.kill()
        server.process.wait()
        print(f"  crm serve killed -9 at {progress(cluster, killed_server)}", flush=True)
        server.log.close()
        server = Server(binary, cluster, *SERVE_ARGUMENTS)
        wait_until(lambda: finished(cluster, killed_server), 300, "the import to finish after the restart")

        killed_database = upload(keys[3], 3, body)
        wait_mid_job(cluster, killed_database)
        at = progress(cluster, killed_database)
        cluster.kill_all()
        print(f"  PostgreSQL killed -9 at {at}", flush=True)
        cluster.start()
        wait_until(lambda: finished(cluster, killed_database), 300, "the import to finish after PostgreSQL's restart")

        expected = outcome(cluster, 1, reference)
        print(f"  each run: {expected['counts']} (rows created updated rejected), {expected['contacts']} contacts", flush=True)
        for listing, import_id in ((2, killed_server), (3, killed_database)):
            got = outcome(cluster, listing, import_id)
            for name, value in expected.items():
                check(got[name] == value, f"listing {listing}: {name} is {got[name]}, undisturbed {value}")
        check(expected["created events"] == expected["contacts"], f"{expected['created events']} created events "
              f"for {expected['contacts']} contacts")
    except Failure:
        with open(os.path.join(cluster.root, "serve.log")) as log:
            print("  crm serve's log ends:\n    " + "\n    ".join(log.read().splitlines()[-8:]), flush=True)
        raise
    finally:
        server.stop()
