#!/usr/bin/env python3
"""A scripted stand-in for the GitHub API that the real `gh` talks to, on a Unix socket.

    python3 tests/support/github_api.py --socket PATH --repo OWNER/NAME --bare REPO.git \
        [--log FILE] [--viewer LOGIN] [--token TOKEN]
    python3 tests/support/github_api.py --control SOCKET PATH [JSON]

gh (2.23) sends every request for api.github.com as plain HTTP/1.1 over the socket named
by `http_unix_socket` in its config. This server answers GraphQL (`POST /graphql`: a small
parser and executor, see gql.py) and the REST endpoints gh uses for pull requests, for ONE
repository whose git data lives in the bare repository `--bare`: head and base SHAs come
from `git rev-parse` there, and a merge writes a real commit there and moves the base branch.

Tests script the forge through `/_control/...` on the same socket (checks, reviews,
comments, a person merging or closing, failures, branch protection, state and the request
log): see README.md beside this file. The first stdout line is `SOCKET=<path>` (flushed),
printed once the socket listens; it then serves until killed (SIGTERM/SIGINT), and removes
the socket file when it stops.

This file is the HTTP side (routing, REST, control, the log); the state and git are in
github_forge.py, the GraphQL schema in github_graphql.py (executed by gql.py), the REST
JSON shapes in github_rest.py, issues (state, REST, control) in github_issues.py. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import github_issues  # noqa: E402
import gql  # noqa: E402
from github_forge import API, MAX_LIST, WEB, ApiError, Forge, cut, now_iso  # noqa: E402
from github_graphql import Schema  # noqa: E402
from github_rest import (job_log_text, rest_check_run, rest_job, rest_pr, rest_repo,  # noqa: E402
                         rest_review_comment, rest_run, rest_user, run_logs_zip)

MAX_BODY = 8 << 20          # a request body larger than this is refused (413)
MAX_LOG_ENTRIES = 2000      # the request log kept in memory for /_control/requests
SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}

# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, path: str, forge: Forge, log_path: str | None,
                 token: str | None = None):
        self.forge = forge
        self.token = token
        self.log_path = log_path
        self.log_lock = threading.Lock()
        super().__init__(path, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""

    def address_string(self) -> str:
        return "unix"

    def log_message(self, fmt, *args) -> None:  # no stderr chatter
        pass

    # ---- plumbing --------------------------------------------------------------------

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ApiError(413, "request body too large")
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes, ctype: str = "application/json; charset=utf-8",
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-RateLimit-Limit", "5000")
        if not headers or "X-RateLimit-Remaining" not in headers:
            self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-OAuth-Scopes", "repo, read:org, workflow, gist")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def _json(self, status: int, value, headers: dict | None = None) -> None:
        self._send(status, json.dumps(value).encode(), headers=headers)

    def _log(self, entry: dict) -> None:
        srv: Server = self.server  # type: ignore[assignment]
        f = srv.forge
        with f.lock:
            f.request_count += 1
            entry["seq"] = f.request_count
            f.requests.append(entry)
            del f.requests[:-MAX_LOG_ENTRIES]
        if srv.log_path:
            with srv.log_lock, open(srv.log_path, "a") as fh:
                fh.write(json.dumps(entry) + "\n")

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def _handle(self) -> None:
        started = time.time()
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path.startswith("/api/v3/"):
            path = path[len("/api/v3"):]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): ("<present>" if k.lower() in SECRET_HEADERS else v)
                   for k, v in self.headers.items()}
        entry = {"time": now_iso(started), "method": self.command, "path": path,
                 "query": query, "headers": headers, "auth": "authorization" in headers}
        srv: Server = self.server  # type: ignore[assignment]
        f = srv.forge
        try:
            raw = self._body()
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            if path.startswith("/_control/"):
                entry["control"] = True
                entry["body"] = body
                with f.lock:
                    status, answer = self._control(path[len("/_control/"):], query, body or {})
                entry["status"] = status
                self._log(entry)
                return self._json(status, answer)
            with f.lock:
                failure = f.take_failure(path)
            if failure is not None:
                return self._fail(failure, entry)
            auth = self.headers.get("Authorization", "")
            token = auth.split(" ", 1)[1].strip() if " " in auth else ""
            if not token or (srv.token is not None and token != srv.token):
                entry["status"] = 401
                self._log(entry)
                message = "Requires authentication" if not token else "Bad credentials"
                if path == "/graphql" and not token:
                    message = "This endpoint requires you to be authenticated."
                return self._json(401, {"message": message,
                                        "documentation_url": "https://docs.github.com/rest"})
            if path == "/graphql" and self.command == "POST":
                return self._graphql(body or {}, entry)
            with f.lock:
                status, answer, extra = self._rest(path, query, body)
            entry["status"] = status
            self._log(entry)
            if isinstance(answer, bytes):
                return self._send(status, answer, extra.pop("Content-Type"), extra)
            return self._json(status, answer, extra)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away (gh does not read a redirect's body)
        except ApiError as e:
            entry["status"] = e.status
            entry["error"] = e.message
            self._log(entry)
            return self._json(e.status, {"message": e.message,
                                         "documentation_url": "https://docs.github.com/rest"})
        except Exception as e:  # a bug here must not hang gh: answer 500 and log it
            entry["status"] = 500
            entry["error"] = f"{type(e).__name__}: {e}"
            self._log(entry)
            return self._json(500, {"message": f"stand-in error: {type(e).__name__}: {e}"})

    def _fail(self, failure: dict, entry: dict) -> None:
        status = int(failure.get("status", 500))
        entry["status"] = status
        entry["scripted_failure"] = True
        if failure.get("kind") == "graphql_rate_limited":
            # GitHub's GraphQL primary rate limit: HTTP 200 with a RATE_LIMITED error.
            entry["status"] = 200
            self._log(entry)
            return self._json(200, {"errors": [{
                "type": "RATE_LIMITED",
                "message": "API rate limit exceeded for user ID 1."}]},
                {"X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(int(time.time()) + 3600),
                 "X-RateLimit-Resource": "graphql"})
        self._log(entry)
        if failure.get("kind") == "rate_limit" or (status in (403, 429) and
                                                   failure.get("kind") != "plain"):
            reset = str(int(time.time()) + 3600)
            hdrs = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset,
                    "X-RateLimit-Used": "5000", "X-RateLimit-Resource": "core"}
            if status == 429:
                hdrs["Retry-After"] = "60"
            return self._json(status, {
                "message": "API rate limit exceeded for user ID 1.",
                "documentation_url": "https://docs.github.com/rest/overview/"
                                     "resources-in-the-rest-api#rate-limiting"}, hdrs)
        if status in (502, 503, 504):
            body = b"<html><body><h1>" + str(status).encode() + b" Server Error</h1></body></html>"
            return self._send(status, body, "text/html")
        return self._json(status, {"message": failure.get("message") or "Server Error"})

    # ---- GraphQL ---------------------------------------------------------------------

    def _graphql(self, body: dict, entry: dict) -> None:
        srv: Server = self.server  # type: ignore[assignment]
        f = srv.forge
        query = body.get("query", "")
        variables = body.get("variables") or {}
        entry["graphql"] = {"query": query, "variables": variables}
        unknown: list[str] = []
        schema = Schema(f)
        with f.lock:
            try:
                name, data = gql.execute(query, variables, {"query": schema.query_root(),
                                                            "mutation": schema.mutation_root()},
                                         body.get("operationName"), unknown.append)
                answer = {"data": data}
            except ApiError as e:
                name = None
                err = {"type": e.gql_type, "message": e.message, "locations": []}
                if e.path:
                    err["path"] = e.path
                answer = {"data": None, "errors": [err]}
            except gql.GraphQLError as e:
                name = None
                answer = {"errors": [{"message": str(e)}]}
            for u in unknown:
                f.unknown[u] = f.unknown.get(u, 0) + 1
        entry["operation"] = name
        entry["status"] = 200
        if unknown:
            entry["unknown_fields"] = sorted(set(unknown))
        if "errors" in answer:
            entry["errors"] = answer["errors"]
        self._log(entry)
        return self._json(200, answer)

    # ---- REST ------------------------------------------------------------------------

    def _rest(self, path: str, query: dict, body) -> tuple[int, object, dict]:
        srv: Server = self.server  # type: ignore[assignment]
        f = srv.forge
        m = self.command
        seg = [s for s in path.split("/") if s]
        if path in ("/", "") and m in ("GET", "HEAD"):
            return 200, {"current_user_url": f"{API}/user"}, {}
        if seg == ["user"]:
            return 200, rest_user(f.viewer), {}
        if seg == ["rate_limit"]:
            core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600,
                    "used": 1}
            return 200, {"resources": {"core": core, "graphql": core}, "rate": core}, {}
        if seg[:1] == ["_blob"] and len(seg) == 3:
            c = f.find_check(int(seg[2]))
            if c is None:
                raise ApiError(404, "Not Found")
            if seg[1] == "run-logs":
                return 200, run_logs_zip(c), {"Content-Type": "application/zip"}
            return 200, job_log_text(c).encode(), {"Content-Type": "text/plain"}
        if len(seg) < 3 or seg[0] != "repos":
            raise ApiError(404, "Not Found")
        if (seg[1].lower(), seg[2].lower()) != (f.owner.lower(), f.name.lower()):
            raise ApiError(404, "Not Found")
        rest = seg[3:]
        if not rest:
            return 200, rest_repo(f), {}
        if rest == ["readme"]:
            raise ApiError(404, "Not Found")
        if rest == ["pulls"] and m == "GET":
            state = query.get("state", "open")
            head = query.get("head", "").split(":", 1)[-1]
            prs = [rest_pr(f, p) for p in sorted(f.prs.values(), key=lambda p: -p["number"])
                   if (state == "all" or (state == "open") == (p["state"] == "OPEN"))
                   and (not head or p["head"] == head)]
            return 200, prs[:int(query.get("per_page", 30))], {}
        if rest == ["pulls"] and m == "POST":
            b = body or {}
            p = f.create_pr(b.get("head", ""), b.get("base", ""), b.get("title", ""),
                            b.get("body", ""), bool(b.get("draft")))
            return 201, rest_pr(f, p), {}
        if len(rest) >= 2 and rest[0] == "pulls":
            p = f.pr(rest[1])
            sub = rest[2:]
            if not sub and m == "GET":
                return 200, rest_pr(f, p), {}
            if not sub and m == "PATCH":
                b = body or {}
                if "title" in b:
                    p["title"] = cut(b["title"], 1024)
                if "body" in b:
                    p["body"] = cut(b["body"])
                if b.get("state") == "closed":
                    f.close_pr(p, f.viewer)
                f.touch(p)
                return 200, rest_pr(f, p), {}
            if sub == ["comments"]:
                return 200, [rest_review_comment(f, p, c) for c in p["review_comments"]], {}
            if sub == ["reviews"]:
                return 200, [{"id": r["id"], "node_id": r["node_id"], "user": rest_user(
                    r["author"]), "author_association": f.association(r["author"]),
                    "body": r["body"], "state": r["state"], "commit_id": r["commit"],
                    "submitted_at": now_iso(r["submitted"])} for r in p["reviews"]], {}
            if sub == ["merge"] and m == "PUT":
                b = body or {}
                sha = f.merge_pr(p, str(b.get("merge_method", "merge")).upper(), f.viewer,
                                 head_oid=b.get("sha"), title=b.get("commit_title"),
                                 body=b.get("commit_message"))
                return 200, {"sha": sha, "merged": True, "message":
                             "Pull Request successfully merged"}, {}
            if sub == ["merge"] and m == "GET":
                if p["state"] == "MERGED":
                    return 204, b"", {"Content-Type": "text/plain"}
                raise ApiError(404, "Not Found")
        if rest[:1] == ["issues"]:
            got = github_issues.rest(f, m, rest, query, body, f.viewer)
            if got is not None:
                return got[0], got[1], {}
        if len(rest) == 3 and rest[0] == "commits" and rest[2] in ("check-runs", "status",
                                                                   "statuses"):
            sha = rest[1] if len(rest[1]) == 40 else f.git.sha(rest[1])
            cs = f.checks_for(sha or "")
            if rest[2] == "check-runs":
                runs = [rest_check_run(f, c) for c in cs if c["kind"] == "check_run"]
                return 200, {"total_count": len(runs), "check_runs": runs}, {}
            sts = [{"id": c["id"], "context": c["name"], "state": c["state"].lower(),
                    "target_url": c["details_url"], "description": c["title"] or None,
                    "created_at": now_iso(c["started"])} for c in cs if c["kind"] == "status"]
            if rest[2] == "statuses":
                return 200, sts, {}
            return 200, {"state": (f.rollup_state(sha or "") or "pending").lower(),
                         "sha": sha, "statuses": sts, "total_count": len(sts)}, {}
        if rest == ["check-runs"] and m == "POST":
            # What a CI (a GitHub App) calls to report a check on a commit: `output.text`
            # becomes the log `gh run view --log-failed` and the job's logs give.
            b = body or {}
            out = b.get("output") or {}
            c = f.add_check({"sha": b.get("head_sha"), "name": b.get("name"),
                             "status": b.get("status", "completed"),
                             "conclusion": b.get("conclusion"),
                             "title": out.get("title", ""), "summary": out.get("summary", ""),
                             "log": out.get("text", "")})
            return 201, rest_check_run(f, c), {}
        if len(rest) == 3 and rest[0] == "check-runs" and rest[2] == "annotations":
            return 200, [], {}
        if len(rest) == 2 and rest[0] == "check-runs":
            c = f.find_check(int(rest[1]))
            if c is None or c["kind"] != "check_run":
                raise ApiError(404, "Not Found")
            return 200, rest_check_run(f, c), {}
        if rest[:2] == ["actions", "workflows"] and len(rest) == 3:
            return 200, {"id": int(rest[2]) if rest[2].isdigit() else 1, "name": "CI",
                         "path": ".github/workflows/ci.yml", "state": "active",
                         "html_url": f"{WEB}/{f.full}/actions/workflows/ci.yml"}, {}
        if rest[:1] == ["actions"] and len(rest) >= 3:
            c = f.find_check(int(rest[2])) if rest[2].isdigit() else None
            if c is None or c["kind"] != "check_run":
                raise ApiError(404, "Not Found")
            tail = rest[3:]
            if rest[1] == "jobs" and not tail:
                return 200, rest_job(f, c), {}
            if rest[1] == "jobs" and tail == ["logs"]:
                return 302, b"", {"Content-Type": "text/plain",
                                  "Location": f"{API}/_blob/job-logs/{c['id']}"}
            if rest[1] == "runs" and not tail:
                return 200, rest_run(f, c), {}
            if rest[1] == "runs" and tail == ["jobs"]:
                jobs = [rest_job(f, x) for x in f.checks_for(c["sha"])
                        if x["kind"] == "check_run" and x["run_id"] == c["run_id"]]
                return 200, {"total_count": len(jobs), "jobs": jobs}, {}
            if rest[1] == "runs" and tail == ["logs"]:
                return 302, b"", {"Content-Type": "text/plain",
                                  "Location": f"{API}/_blob/run-logs/{c['id']}"}
            if rest[1] == "runs" and tail == ["attempts", "1"]:
                return 200, rest_run(f, c), {}
        if rest[:3] == ["git", "refs", "heads"] and m == "DELETE":
            branch = "/".join(rest[3:])
            if f.git.sha(branch) is None:
                raise ApiError(422, "Reference does not exist")
            f.git.run("update-ref", "-d", f"refs/heads/{branch}")
            return 204, b"", {"Content-Type": "text/plain"}
        if rest[:2] == ["branches"] and len(rest) >= 2:
            branch = "/".join(rest[1:])
            sha = f.git.sha(branch.removesuffix("/protection"))
            if sha is None:
                raise ApiError(404, "Branch not found")
            return 200, {"name": branch, "commit": {"sha": sha},
                         "protected": branch in f.protection}, {}
        raise ApiError(404, "Not Found")

    # ---- control ---------------------------------------------------------------------

    def _control(self, what: str, query: dict, b: dict) -> tuple[int, object]:
        srv: Server = self.server  # type: ignore[assignment]
        f = srv.forge
        if not isinstance(b, dict):
            raise ApiError(400, "control: the body is a JSON object")
        if what == "state":
            return 200, dict(f.state_json(), issues=github_issues.state_json(f))
        got = github_issues.control(f, what, b)
        if got is not None:
            return got
        if what == "requests":
            since = int(query.get("since", 0))
            limit = min(int(query.get("limit", 200)), MAX_LIST)
            full = query.get("full") == "1"
            out = []
            for e in f.requests:
                if e["seq"] <= since:
                    continue
                if full:
                    out.append(e)
                else:
                    out.append({k: e.get(k) for k in ("seq", "method", "path", "status",
                                                       "operation", "unknown_fields", "error")
                                if e.get(k) is not None})
            return 200, {"requests": out[:limit], "total": f.request_count}
        if what == "unknown":
            return 200, f.unknown
        if what == "checks":
            # Several at once: {"pr": N, "checks": [{"name": …, "conclusion": …}, …]}.
            if isinstance(b.get("checks"), list):
                made = [f.add_check(dict(c, pr=b.get("pr"), sha=b.get("sha")))
                        for c in b["checks"]]
                return 200, {"ids": [c["id"] for c in made]}
            c = f.add_check(b)
            return 200, {"id": c["id"], "run_id": c["run_id"], "sha": c["sha"],
                         "details_url": c["details_url"]}
        if what == "clear-checks":
            sha = b.get("sha") or (f.head_oid(f.pr(b["pr"])) if "pr" in b else None)
            if sha:
                f.checks.pop(sha, None)
            else:
                f.checks.clear()
            return 200, {"ok": True}
        if what == "association":
            f.set_association(str(b.get("login", "")), b.get("association"))
            return 200, {"login": b.get("login"), "association": f.association(b.get("login"))}
        if what == "review":
            p = f.pr(b.get("pr"))
            f.set_association(b.get("author", "reviewer"), b.get("association"))
            r = f.add_review(p, b.get("state", "COMMENTED"), b.get("body", ""),
                             cut(b.get("author", "reviewer"), 100))
            for c in b.get("comments", []) or []:
                f.add_review_comment(p, dict(c, review_id=r["id"],
                                             author=b.get("author", "reviewer")))
            return 200, {"id": r["id"], "node_id": r["node_id"]}
        if what == "review-comment":
            p = f.pr(b.get("pr"))
            f.set_association(b.get("author", "reviewer"), b.get("association"))
            c = f.add_review_comment(p, b)
            return 200, {"id": c["id"]}
        if what == "resolve":
            p = f.pr(b.get("pr"))
            for c in p["review_comments"]:
                if c["id"] == b.get("id"):
                    c["resolved"] = bool(b.get("resolved", True))
                    return 200, {"ok": True}
            raise ApiError(404, "no such review comment")
        if what == "comment":
            p = f.pr(b.get("pr"))
            f.set_association(b.get("author", "reviewer"), b.get("association"))
            c = f.add_comment(p, b.get("body", ""), b.get("author", "reviewer"))
            return 200, {"id": c["id"]}
        if what == "merge":
            p = f.pr(b.get("pr"))
            sha = f.merge_pr(p, str(b.get("method", "merge")).upper(),
                             cut(b.get("author", "maintainer"), 100), force=True)
            return 200, {"merge_commit": sha}
        if what == "close":
            p = f.pr(b.get("pr"))
            f.close_pr(p, cut(b.get("author", "maintainer"), 100))
            return 200, {"ok": True}
        if what == "fail":
            if b.get("kind") not in (None, "rate_limit", "plain", "graphql_rate_limited"):
                raise ApiError(400, "fail: kind is rate_limit, plain or graphql_rate_limited")
            spec = {"count": max(1, int(b.get("count", 1))), "status": int(b.get("status", 500)),
                    "kind": b.get("kind"), "path_prefix": b.get("path_prefix", ""),
                    "message": b.get("message")}
            f.failures.append(spec)
            return 200, {"ok": True}
        if what == "protect":
            branch = b.get("branch") or f.git.default_branch()
            if b.get("off"):
                f.protection.pop(branch, None)
            else:
                f.protection[branch] = {"required_checks": list(b.get("required_checks", [])),
                                        "required_reviews": int(b.get("required_reviews", 0)),
                                        "reject_push": bool(b.get("reject_push", False))}
            f.write_push_hook()
            return 200, {"ok": True, "protection": f.protection}
        if what == "draft":
            p = f.pr(b.get("pr"))
            p["draft"] = bool(b.get("draft", True))
            return 200, {"ok": True}
        raise ApiError(404, f"no control endpoint {what!r}")


def control_client(argv: list[str]) -> int:
    """`--control SOCKET PATH [JSON]`: one request to /_control/PATH; prints the answer."""
    import http.client
    import socket as socketlib

    if len(argv) not in (2, 3):
        print("usage: github_api.py --control SOCKET PATH [JSON]", file=sys.stderr)
        return 2

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(argv[0])

    conn = Conn("api.github.com")
    body = argv[2].encode() if len(argv) == 3 else None
    conn.request("POST" if body is not None else "GET", "/_control/" + argv[1].lstrip("/"),
                 body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    sys.stdout.write(resp.read().decode() + "\n")
    return 0 if resp.status < 300 else 1


def main() -> None:
    if sys.argv[1:2] == ["--control"]:
        sys.exit(control_client(sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="the Unix socket to listen on")
    ap.add_argument("--repo", required=True, help="OWNER/NAME of the one repository")
    ap.add_argument("--bare", required=True, help="the bare git repository behind it")
    ap.add_argument("--viewer", default="vnx-user", help="the login GH_TOKEN stands for")
    ap.add_argument("--log", help="append one JSON line per request here")
    ap.add_argument("--token", help="accept only this token (default: any non-empty one)")
    args = ap.parse_args()
    owner, _, name = args.repo.partition("/")
    if not owner or not name:
        ap.error("--repo is OWNER/NAME")
    if not os.path.isdir(args.bare):
        ap.error(f"--bare {args.bare}: not a directory")
    if len(os.fsencode(args.socket)) > 107:
        ap.error(f"--socket {args.socket}: longer than the 107 bytes a Unix socket path "
                 f"may have; put it in a short directory such as /tmp")
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = Server(args.socket, Forge(owner, name, os.path.abspath(args.bare), args.viewer),
                 args.log, args.token)
    print(f"SOCKET={args.socket}", flush=True)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        try:
            os.unlink(args.socket)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
