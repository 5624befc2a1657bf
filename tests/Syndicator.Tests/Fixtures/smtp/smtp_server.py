#!/usr/bin/python3
"""A real SMTP server on loopback for Syndicator's tests, built on Debian's python3-aiosmtpd.

Run it with Debian's interpreter (a pyenv python3 earlier on PATH has no aiosmtpd):

    /usr/bin/python3 -I smtp_server.py --maildir DIR [--port 0] [--rules FILE]
        [--starttls [--require-starttls] | --tls] [--cert-dir DIR] [--cert-out FILE]
        [--auth USER:PASS [--auth-optional]] [--hostname NAME] [--watch-stdin] [--verbose]

Once it listens it prints exactly one line on stdout, "READY <host> <port>", and flushes.

What it does (tests/Syndicator.Tests/Support/SmtpTestServer.cs is the C# side):
  * every accepted message is stored in --maildir as NNNNNN.eml (the DATA bytes as received, CRLF line ends,
    dots unstuffed) plus NNNNNN.meta.json (envelope MAIL FROM, RCPT TOs, connection number, ...); both are
    written to a temporary name and renamed, the .eml first, so a .meta.json always has its complete .eml;
  * --maildir/stats.json (rewritten atomically after every change) counts connections, messages per
    connection, refused recipients/messages and AUTH results;
  * --rules FILE (JSON, re-read at every RCPT and DATA; a missing file means no rules):
        {"fail_rcpt":  {"addr@x": [451, "4.7.1 try later"]},   # refuse RCPT TO:<addr@x>
         "fail_data":  {"addr@x": [554, "5.6.0 rejected"]},    # refuse the DATA of a message to addr@x
         "fail_times": {"addr@x": 1},                           # ... only that many times, then accept
         "rule_ids":   {"addr@x": "any text"},                  # a new id restarts the fail_times count
         "drop_after_data": {"addr@x": 1},                      # store the message, then drop the connection
                                                                # instead of answering 250 (that many times)
         "drop_at_rcpt": {"addr@x": 1},                         # MAIL FROM accepted, then drop the connection at
                                                                # RCPT TO:<addr@x>, storing nothing (that many times)
         "reply_delay_ms": 300}                                 # wait this long before answering each DATA
    Addresses compare case-insensitively. Without fail_times an address fails every time.
  * --starttls offers STARTTLS with a self-signed certificate for localhost/127.0.0.1 made at start in a
    temporary directory, or in --cert-dir (openssl, else python3-cryptography); --require-starttls refuses
    mail before it (530); --tls speaks TLS from the first byte instead (implicit TLS, "SMTPS"). --cert-out
    copies the certificate (PEM) to FILE so a client can pin it.
  * --auth USER:PASS offers AUTH PLAIN and LOGIN and requires it before MAIL (530 5.7.0 otherwise); wrong
    credentials get "535 5.7.8 Authentication credentials invalid". --auth-optional offers AUTH without
    requiring it. With --starttls, AUTH is offered only after STARTTLS, as submission servers do. Without
    --auth no AUTH is offered.
  * --watch-stdin: stop when stdin reaches end of file (so the server dies with the test process that
    started it). SIGTERM and SIGINT stop it too.

Exit codes: 0 stopped normally, 2 bad arguments, 3 aiosmtpd cannot be imported, 4 no way to make a
certificate, 5 could not start listening.
"""

import argparse
import asyncio
import datetime
import itertools
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings

try:
    import aiosmtpd
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError as e:  # pragma: no cover - depends on the machine
    print(
        f"smtp_server.py: cannot import aiosmtpd with {sys.executable} ({e}); "
        "install Debian's python3-aiosmtpd (apt-get install python3-aiosmtpd)",
        file=sys.stderr,
    )
    sys.exit(3)

EXIT_NO_CERT = 4
EXIT_NO_LISTEN = 5

log = logging.getLogger("smtp_server")


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def write_atomically(path: str, data: bytes) -> None:
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def to_json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ------------------------------------------------------------------ rules


class Rules:
    """The control file, re-read on every use, and how often each rule has fired."""

    KINDS = ("fail_rcpt", "fail_data")

    def __init__(self, path):
        self.path = path
        self.hits = {}  # (kind, address, rule id) -> times it fired
        self.lock = threading.Lock()

    def _load(self) -> dict:
        if not self.path:
            return {}
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return {}
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the rules file must hold a JSON object")

        def lowered(name):
            table = data.get(name) or {}
            if not isinstance(table, dict):
                raise ValueError(f"rules: '{name}' must be an object keyed by address")
            return {str(k).lower(): v for k, v in table.items()}

        rules = {name: lowered(name) for name in (*self.KINDS, "fail_times", "rule_ids", "drop_after_data", "drop_at_rcpt")}
        delay = data.get("reply_delay_ms") or 0
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ValueError("rules: 'reply_delay_ms' must be a number of milliseconds >= 0")
        rules["reply_delay_ms"] = delay
        return rules

    def reply_delay(self) -> float:
        """Seconds to wait before answering DATA."""
        return self._load().get("reply_delay_ms", 0) / 1000.0 if self.path else 0.0

    def drop_after_data(self, address: str) -> bool:
        """True when the message to `address` is to be stored and its connection dropped before the reply. Counts it."""
        return self._drop("drop_after_data", address)

    def drop_at_rcpt(self, address: str) -> bool:
        """True when the connection is to be dropped at RCPT TO:<address>, before any answer. Counts it."""
        return self._drop("drop_at_rcpt", address)

    def _drop(self, kind: str, address: str) -> bool:
        rules = self._load()
        address = (address or "").lower()
        times = rules.get(kind, {}).get(address)
        if times is None:
            return False
        key = (kind, address, str(rules["rule_ids"].get(address, "")))
        with self.lock:
            fired = self.hits.get(key, 0)
            if isinstance(times, int) and fired >= times:
                return False
            self.hits[key] = fired + 1
        return True

    @staticmethod
    def _reply(kind, address, entry) -> str:
        if isinstance(entry, int):
            code, text = entry, ""
        elif isinstance(entry, (list, tuple)) and 1 <= len(entry) <= 2:
            code, text = entry[0], (entry[1] if len(entry) == 2 else "")
        elif isinstance(entry, dict):
            code, text = entry.get("code"), entry.get("text", "")
        else:
            raise ValueError(f"rules: {kind}[{address}] must be [code, text]")
        if not isinstance(code, int) or not 400 <= code <= 599:
            raise ValueError(f"rules: {kind}[{address}] code must be a 4xx or 5xx number, not {code!r}")
        text = str(text or ("Requested action aborted" if code < 500 else "Requested action not taken"))
        return f"{code} {text}".replace("\r", " ").replace("\n", " ")

    def check(self, kind: str, address: str):
        """The reply to refuse `address` with for `kind`, or None to accept. Counts the refusal."""
        rules = self._load()
        address = (address or "").lower()
        entry = rules.get(kind, {}).get(address)
        if entry is None:
            return None
        reply = self._reply(kind, address, entry)
        times = rules["fail_times"].get(address)
        if times is not None and (not isinstance(times, int) or times < 0):
            raise ValueError(f"rules: fail_times[{address}] must be a whole number >= 0")
        key = (kind, address, str(rules["rule_ids"].get(address, "")))
        with self.lock:
            fired = self.hits.get(key, 0)
            if times is not None and fired >= times:
                return None
            self.hits[key] = fired + 1
        return reply


# ------------------------------------------------------------------ state


class State:
    """Connection numbers, message numbers, the maildir and stats.json. Touched from the server's loop thread."""

    def __init__(self, maildir: str):
        self.maildir = maildir
        self.lock = threading.Lock()
        self.counting = False  # off while aiosmtpd's Controller makes its own start-up probe connection
        self.connection_ids = itertools.count(1)
        self.message_ids = itertools.count(1)
        self.connections = {}  # id -> details
        self.messages = 0
        self.rejections = []
        self.auth = {"successes": 0, "failures": 0}
        self.write_stats()

    def write_stats(self) -> None:
        with self.lock:
            stats = {
                "connections": len(self.connections),
                "messages": self.messages,
                "messages_per_connection": {str(k): c["messages"] for k, c in self.connections.items()},
                "connection_details": list(self.connections.values()),
                "rejections": list(self.rejections),
                "auth_successes": self.auth["successes"],
                "auth_failures": self.auth["failures"],
                "updated_at": now_iso(),
            }
            write_atomically(os.path.join(self.maildir, "stats.json"), to_json_bytes(stats))

    def connection_opened(self, peer, tls: bool) -> int:
        if not self.counting:
            return 0
        with self.lock:
            cid = next(self.connection_ids)
            self.connections[cid] = {
                "id": cid,
                "peer": list(peer) if peer else None,
                "opened_at": now_iso(),
                "closed_at": None,
                "tls": tls,
                "helo": None,
                "authenticated_user": None,
                "messages": 0,
            }
        self.write_stats()
        return cid

    def connection_update(self, cid: int, **changes) -> None:
        if not cid:
            return
        with self.lock:
            conn = self.connections.get(cid)
            if conn is None or all(conn.get(k) == v for k, v in changes.items()):
                return
            conn.update(changes)
        self.write_stats()

    def rejected(self, cid: int, kind: str, address: str, reply: str) -> None:
        with self.lock:
            self.rejections.append(
                {"connection": cid, "kind": kind, "address": address, "reply": reply, "at": now_iso()}
            )
        self.write_stats()

    def auth_result(self, cid: int, ok: bool, user: str) -> None:
        with self.lock:
            self.auth["successes" if ok else "failures"] += 1
            if ok and cid in self.connections:
                self.connections[cid]["authenticated_user"] = user
        self.write_stats()

    def store(self, cid: int, session, envelope, tls: bool) -> int:
        with self.lock:
            mid = next(self.message_ids)
            conn = self.connections.get(cid)
            index = 0
            if conn is not None:
                conn["messages"] += 1
                index = conn["messages"]
            self.messages += 1
        content = envelope.original_content
        if isinstance(content, str):  # only with decode_data=True, which this server does not use
            content = content.encode("utf-8")
        base = os.path.join(self.maildir, f"{mid:06d}")
        write_atomically(base + ".eml", content)
        auth_data = getattr(session, "auth_data", None)
        meta = {
            "id": mid,
            "file": f"{mid:06d}.eml",
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "smtp_utf8": bool(envelope.smtp_utf8),
            "connection": cid,
            "message_in_connection": index,
            "session": {
                "peer": list(session.peer) if session.peer else None,
                "helo": session.host_name,
                "tls": tls,
                "authenticated_user": decode_login(auth_data.login) if isinstance(auth_data, LoginPassword) else None,
            },
            "size": len(content),
            "received_at": now_iso(),
        }
        write_atomically(base + ".meta.json", to_json_bytes(meta))
        self.write_stats()
        return mid


def decode_login(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


# ------------------------------------------------------------------ aiosmtpd glue


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP protocol (one instance per TCP connection) that numbers its connection."""

    def __init__(self, handler, *, state: State, **kwargs):
        super().__init__(handler, **kwargs)
        self.state = state
        self.connection_id = None
        self.tls = False

    def connection_made(self, transport) -> None:
        # Called again with the TLS transport after STARTTLS (aiosmtpd then starts a new Session): same connection.
        self.tls = transport.get_extra_info("ssl_object") is not None
        if self.connection_id is None:
            self.connection_id = self.state.connection_opened(transport.get_extra_info("peername"), self.tls)
        else:
            self.state.connection_update(self.connection_id, tls=self.tls)
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        if self.connection_id:
            self.state.connection_update(self.connection_id, closed_at=now_iso())
        super().connection_lost(error)


class Handler:
    def __init__(self, state: State, rules: Rules, advertise_auth: bool):
        self.state = state
        self.rules = rules
        self.advertise_auth = advertise_auth

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # the 5-argument hook must do this itself
        self.state.connection_update(server.connection_id, helo=hostname)
        if not self.advertise_auth:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self.state.connection_update(server.connection_id, helo=hostname)
        return f"250 {server.hostname}"

    def _check(self, server, kind, address):
        try:
            reply = self.rules.check(kind, address)
        except Exception as e:  # a broken rules file must be visible, not silently ignored
            log.error("rules file %s: %s", self.rules.path, e)
            return f"451 4.3.0 test server: unusable rules file ({e})"
        if reply is not None:
            self.state.rejected(server.connection_id, kind.replace("fail_", ""), address, reply)
        return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._check(server, "fail_rcpt", address)
        if reply is not None:
            return reply
        try:
            drop = self.rules.drop_at_rcpt(address)
        except Exception as e:  # a broken rules file must be visible, not silently ignored
            log.error("rules file %s: %s", self.rules.path, e)
            return f"451 4.3.0 test server: unusable rules file ({e})"
        if drop:
            # The relay goes away in the middle of the envelope: MAIL FROM was accepted, nothing is stored.
            self.state.rejected(server.connection_id, "dropped_at_rcpt", address, "connection dropped")
            server.transport.abort()
            return "421 4.3.0 connection dropped"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            reply = self._check(server, "fail_data", address)
            if reply is not None:
                return reply
        try:
            delay = self.rules.reply_delay()
            drop = any(self.rules.drop_after_data(a) for a in envelope.rcpt_tos)
        except Exception as e:  # a broken rules file must be visible, not silently ignored
            log.error("rules file %s: %s", self.rules.path, e)
            return f"451 4.3.0 test server: unusable rules file ({e})"
        if delay:
            await asyncio.sleep(delay)
        mid = self.state.store(server.connection_id, session, envelope, server.tls)
        if drop:
            # The relay has the message, but its answer is lost: the connection goes before the 250.
            self.state.rejected(server.connection_id, "dropped_after_data", ",".join(envelope.rcpt_tos), "connection dropped")
            server.transport.abort()
        return f"250 2.0.0 OK queued as {mid:06d}"


def make_authenticator(state: State, user: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and decode_login(auth_data.login) == user
            and decode_login(auth_data.password) == password
        )
        state.auth_result(
            getattr(server, "connection_id", 0), ok, decode_login(getattr(auth_data, "login", b""))
        )
        # handled=False: aiosmtpd answers "535 5.7.8 Authentication credentials invalid" on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticator


class TestController(Controller):
    def __init__(self, handler, *, state: State, **kwargs):
        self.state = state
        super().__init__(handler, **kwargs)

    def factory(self):
        return CountingSMTP(self.handler, state=self.state, **self.SMTP_kwargs)

    def _trigger_server(self):
        # With port 0 the kernel picked the port: learn it before Controller connects to itself.
        if self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


# ------------------------------------------------------------------ TLS


def make_certificate(directory: str, hostname: str, host: str):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    san = f"DNS:{hostname},DNS:localhost,IP:127.0.0.1"
    if host not in ("127.0.0.1", "localhost", hostname):
        san += f",IP:{host}"
    openssl = shutil.which("openssl") or ("/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else None)
    errors = []
    if openssl:
        run = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={hostname}",
             "-addext", f"subjectAltName={san}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
        )
        if run.returncode == 0:
            return cert, key
        errors.append(f"openssl exited with {run.returncode}: {run.stdout.decode(errors='replace').strip()}")
    else:
        errors.append("no openssl binary")
    try:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as e:
        errors.append(f"no python3-cryptography ({e})")
        raise RuntimeError("; ".join(errors))
    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(hostname), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(pkey, hashes.SHA256())
    )
    with open(key, "wb") as f:
        f.write(pkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    with open(cert, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def server_tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


# ------------------------------------------------------------------ main


def parse_args(argv):
    p = argparse.ArgumentParser(description="Loopback SMTP server for tests (aiosmtpd).")
    p.add_argument("--maildir", required=True, help="directory for NNNNNN.eml, NNNNNN.meta.json and stats.json")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on; 0 (default) picks a free one")
    p.add_argument("--rules", help="JSON control file with per-recipient failures, re-read at every RCPT/DATA")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true", help="offer STARTTLS with a self-signed certificate")
    tls.add_argument("--tls", action="store_true", help="implicit TLS: TLS from the first byte")
    p.add_argument("--require-starttls", action="store_true", help="with --starttls: 530 to mail before STARTTLS")
    p.add_argument("--cert-dir", help="with --starttls/--tls: make cert.pem and key.pem here (kept) instead of in a temporary directory (removed at exit)")
    p.add_argument("--cert-out", help="with --starttls/--tls: copy the server certificate (PEM) to this file")
    p.add_argument("--auth", metavar="USER:PASS", help="offer AUTH PLAIN/LOGIN for these credentials, and require it")
    p.add_argument("--auth-optional", action="store_true", help="with --auth: offer AUTH but do not require it")
    p.add_argument("--hostname", default="localhost", help="name in the greeting and certificate (default localhost)")
    p.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches end of file")
    p.add_argument("--verbose", action="store_true", help="log the SMTP conversation to stderr")
    args = p.parse_args(argv)
    if args.require_starttls and not args.starttls:
        p.error("--require-starttls needs --starttls")
    if (args.cert_out or args.cert_dir) and not (args.starttls or args.tls):
        p.error("--cert-out and --cert-dir need --starttls or --tls")
    if args.auth_optional and not args.auth:
        p.error("--auth-optional needs --auth")
    if args.auth is not None and ":" not in args.auth:
        p.error("--auth must be USER:PASS")
    if not 0 <= args.port <= 65535:
        p.error("--port must be 0..65535")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="smtp_server %(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not args.verbose:
        # aiosmtpd warns at every connection that AUTH without TLS is insecure: expected on loopback.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        warnings.simplefilter("ignore")

    maildir = os.path.abspath(args.maildir)
    os.makedirs(maildir, exist_ok=True)
    state = State(maildir)
    rules = Rules(os.path.abspath(args.rules) if args.rules else None)

    cert_dir = None  # a temporary directory to remove at exit
    tls_context = None
    if args.starttls or args.tls:
        if args.cert_dir:
            os.makedirs(args.cert_dir, exist_ok=True)
        else:
            cert_dir = tempfile.mkdtemp(prefix="smtp-test-cert-")
        try:
            cert, key = make_certificate(args.cert_dir or cert_dir, args.hostname, args.host)
            tls_context = server_tls_context(cert, key)
        except Exception as e:
            print(f"smtp_server.py: cannot make a TLS certificate: {e}", file=sys.stderr)
            if cert_dir:
                shutil.rmtree(cert_dir, ignore_errors=True)
            return EXIT_NO_CERT
        if args.cert_out:
            shutil.copyfile(cert, args.cert_out)

    smtp_kwargs = {
        "server_hostname": args.hostname,
        "ident": f"Syndicator test SMTP (aiosmtpd {aiosmtpd.__version__})",
        "decode_data": False,
        # aiosmtpd counts only STARTTLS as TLS, so with implicit TLS AUTH must not "require TLS".
        "auth_require_tls": bool(args.starttls),
    }
    if args.starttls:
        smtp_kwargs["tls_context"] = tls_context
        smtp_kwargs["require_starttls"] = args.require_starttls
    if args.auth is not None:
        user, _, password = args.auth.partition(":")
        smtp_kwargs["authenticator"] = make_authenticator(state, user, password)
        smtp_kwargs["auth_required"] = not args.auth_optional

    handler = Handler(state, rules, advertise_auth=args.auth is not None)
    controller = TestController(
        handler,
        state=state,
        hostname=args.host,
        port=args.port,
        ssl_context=tls_context if args.tls else None,
        ready_timeout=30.0,
        **smtp_kwargs,
    )
    try:
        controller.start()
    except Exception as e:
        print(f"smtp_server.py: cannot listen on {args.host}:{args.port}: {e!r}", file=sys.stderr)
        if cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)
        return EXIT_NO_LISTEN
    state.counting = True  # Controller.start()'s own probe connection is over: count from here

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.watch_stdin:
        def watch():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=watch, name="watch-stdin", daemon=True).start()

    print(f"READY {args.host} {controller.port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop(no_assert=True)
        if cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
