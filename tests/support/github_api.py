#!/usr/bin/env python3
"""A scripted stand-in for the GitHub API that the real `gh` talks to, on a Unix socket.

    python3 tests/support/github_api.py --socket PATH --repo OWNER/NAME --bare REPO.git \
        [--log FILE] [--viewer LOGIN]

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

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gql  # noqa: E402

MAX_BODY = 8 << 20          # a request body larger than this is refused (413)
MAX_TEXT = 1 << 20          # a stored text (comment, log) is cut to this many characters
MAX_LOG_ENTRIES = 2000      # the request log kept in memory for /_control/requests
MAX_LIST = 200              # at most this many entries in one control answer
SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}
WEB = "https://github.com"
API = "https://api.github.com"


# Written into the bare repo by /_control/protect with "reject_push": true. It reads the
# protected refs from a file beside it, so no branch name is ever part of the script.
PRE_RECEIVE_HOOK = """#!/bin/sh
# vnx test forge: refuse updates of the protected branches (GitHub's GH006 message).
list="$(dirname "$0")/vnx-protected-branches"
while read -r old new ref; do
    if grep -qxF -- "$ref" "$list"; then
        echo "error: GH006: Protected branch update failed for $ref." >&2
        echo "error: Changes must be made through a pull request." >&2
        exit 1
    fi
done
exit 0
"""


def now_iso(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


def cut(text, limit: int = MAX_TEXT) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit]


class ApiError(Exception):
    """A failure answered to the client: REST as {message}, GraphQL as errors[]."""

    def __init__(self, status: int, message: str, gql_type: str = "UNPROCESSABLE"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.gql_type = gql_type
        self.path: list | None = None


# --------------------------------------------------------------------------------------
# git in the bare repository
# --------------------------------------------------------------------------------------


class Git:
    def __init__(self, bare: str):
        self.bare = bare

    def run(self, *args: str, env: dict | None = None, check: bool = True) -> str:
        e = dict(os.environ)
        e.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
        if env:
            e.update(env)
        p = subprocess.run(["git", "-C", self.bare, *args], capture_output=True, text=True,
                           env=e, timeout=60)
        if check and p.returncode != 0:
            raise ApiError(500, f"git {' '.join(args)}: {p.stderr.strip()}")
        return p.stdout.strip() if p.returncode == 0 else ""

    def sha(self, ref: str) -> str | None:
        out = self.run("rev-parse", "--verify", "-q", f"refs/heads/{ref}^{{commit}}",
                       check=False)
        return out or None

    def default_branch(self) -> str:
        head = self.run("symbolic-ref", "-q", "HEAD", check=False)
        return head.removeprefix("refs/heads/") if head else "main"

    def merge_tree(self, base: str, head: str, merge_base: str | None = None) -> str | None:
        args = ["merge-tree", "--write-tree", "--no-messages"]
        if merge_base:
            args.append(f"--merge-base={merge_base}")
        p = subprocess.run(["git", "-C", self.bare, *args, base, head], capture_output=True,
                           text=True, timeout=60)
        return p.stdout.split("\n", 1)[0].strip() if p.returncode == 0 else None

    def is_ancestor(self, a: str, b: str) -> bool:
        return subprocess.run(["git", "-C", self.bare, "merge-base", "--is-ancestor", a, b],
                              capture_output=True).returncode == 0

    def ident(self, login: str, when: float) -> dict:
        stamp = f"{int(when)} +0000"
        return {"GIT_AUTHOR_NAME": login, "GIT_AUTHOR_EMAIL": f"{login}@users.noreply.github.com",
                "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_NAME": "GitHub",
                "GIT_COMMITTER_EMAIL": "noreply@github.com", "GIT_COMMITTER_DATE": stamp}

    def merge(self, base: str, head: str, method: str, message: str, login: str) -> str:
        """Lands `head` on branch `base` (merge/squash/rebase); returns the new base tip."""
        old = self.sha(base)
        tip = self.sha(head)
        if old is None or tip is None:
            raise ApiError(422, "Head or base branch is missing")
        when = time.time()
        env = self.ident(login, when)
        if method == "MERGE":
            tree = self.merge_tree(old, tip)
            if tree is None:
                raise ApiError(405, "Pull Request is not mergeable")
            new = self.run("commit-tree", tree, "-p", old, "-p", tip, "-m", message, env=env)
        elif method == "SQUASH":
            tree = self.merge_tree(old, tip)
            if tree is None:
                raise ApiError(405, "Pull Request is not mergeable")
            new = self.run("commit-tree", tree, "-p", old, "-m", message, env=env)
        elif method == "REBASE":
            new = old
            commits = self.run("rev-list", "--reverse", "--no-merges", f"{old}..{tip}")
            for c in commits.split():
                tree = self.merge_tree(new, c, merge_base=f"{c}^")
                if tree is None:
                    raise ApiError(405, "Pull Request is not mergeable")
                fmt = self.run("log", "-1", "--format=%an%x00%ae%x00%ad%x00%B", "--date=raw", c)
                an, ae, ad, msg = fmt.split("\x00", 3)
                cenv = dict(env, GIT_AUTHOR_NAME=an, GIT_AUTHOR_EMAIL=ae, GIT_AUTHOR_DATE=ad)
                new = self.run("commit-tree", tree, "-p", new, "-m", msg.rstrip("\n") or c,
                               env=cenv)
        else:
            raise ApiError(422, f"unknown merge method {method}")
        self.run("update-ref", f"refs/heads/{base}", new, old)
        return new

    def mergeable(self, base: str, head: str) -> bool:
        old, tip = self.sha(base), self.sha(head)
        return bool(old and tip and self.merge_tree(old, tip))


# --------------------------------------------------------------------------------------
# The forge's state
# --------------------------------------------------------------------------------------


class Forge:
    def __init__(self, owner: str, name: str, bare: str, viewer: str):
        self.owner, self.name, self.viewer = owner, name, viewer
        self.git = Git(bare)
        self.lock = threading.RLock()
        self.prs: dict[int, dict] = {}
        self.checks: dict[str, list[dict]] = {}   # sha -> check runs and status contexts
        self.protection: dict[str, dict] = {}     # branch -> {required_checks, required_reviews}
        self.next_id = 1000
        self.next_number = 1
        self.failures: list[dict] = []            # scripted failures, consumed in order
        self.requests: list[dict] = []
        self.request_count = 0
        self.unknown: dict[str, int] = {}
        self.started = time.time()

    @property
    def full(self) -> str:
        return f"{self.owner}/{self.name}"

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    # ---- pull requests ---------------------------------------------------------------

    def pr(self, number) -> dict:
        try:
            return self.prs[int(number)]
        except (KeyError, TypeError, ValueError):
            raise ApiError(404, f"Could not resolve to a PullRequest with the number of {number}.",
                           "NOT_FOUND") from None

    def pr_by_node(self, node_id: str) -> dict | None:
        for p in self.prs.values():
            if p["node_id"] == node_id:
                return p
        return None

    def create_pr(self, head: str, base: str, title: str, body: str, draft: bool,
                  author: str | None = None) -> dict:
        head = head.split(":", 1)[-1]
        if self.git.sha(head) is None:
            raise ApiError(422, f"Head sha can't be blank, Base sha can't be blank, No commits "
                           f"between {base} and {head}, Head ref must be a branch")
        if self.git.sha(base) is None:
            raise ApiError(422, f"Base ref must be a branch")
        for p in self.prs.values():
            if p["head"] == head and p["base"] == base and p["state"] == "OPEN":
                raise ApiError(422, f"A pull request already exists for {self.owner}:{head}.")
        n = self.next_number
        self.next_number += 1
        t = time.time()
        pr = {"number": n, "node_id": f"PR_kwDO{n:06d}", "db_id": self.new_id(),
              "title": cut(title or head, 1024), "body": cut(body), "head": head, "base": base,
              "state": "OPEN", "draft": bool(draft), "author": author or self.viewer,
              "created": t, "updated": t, "closed": None, "merged": None, "merged_by": None,
              "merge_commit": None, "head_oid_at_close": None, "comments": [], "reviews": [],
              "review_comments": []}
        self.prs[n] = pr
        return pr

    def head_oid(self, pr: dict) -> str:
        if pr["state"] != "OPEN" and pr["head_oid_at_close"]:
            return pr["head_oid_at_close"]
        return self.git.sha(pr["head"]) or pr["head_oid_at_close"] or "0" * 40

    def touch(self, pr: dict) -> None:
        pr["updated"] = time.time()

    def close_pr(self, pr: dict, by: str) -> None:
        if pr["state"] != "OPEN":
            raise ApiError(422, f"Pull request #{pr['number']} is already {pr['state'].lower()}")
        pr["head_oid_at_close"] = self.git.sha(pr["head"])
        pr["state"] = "CLOSED"
        pr["closed"] = time.time()
        pr["closed_by"] = by
        self.touch(pr)

    def merge_pr(self, pr: dict, method: str, by: str, head_oid: str | None = None,
                 title: str | None = None, body: str | None = None, force: bool = False) -> str:
        if pr["state"] != "OPEN":
            raise ApiError(405, f"Pull Request is not mergeable")
        if pr["draft"]:
            raise ApiError(405, "Pull Request is still a draft")
        tip = self.git.sha(pr["head"])
        if head_oid and head_oid != tip:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if not force:
            blocked = self.blocked_reasons(pr)
            if blocked:
                raise ApiError(405, blocked[0])
        n = pr["number"]
        if method == "MERGE":
            msg = f"Merge pull request #{n} from {self.owner}/{pr['head']}\n\n{title or pr['title']}"
        elif method == "SQUASH":
            msg = f"{title or pr['title']} (#{n})"
        else:
            msg = ""
        if body:
            msg += "\n\n" + body
        new = self.git.merge(pr["base"], pr["head"], method, msg, by)
        pr["head_oid_at_close"] = tip
        pr["state"] = "MERGED"
        pr["merged"] = pr["closed"] = time.time()
        pr["merged_by"] = by
        pr["merge_commit"] = new
        pr["merge_method"] = method
        self.touch(pr)
        return new

    # ---- checks and reviews ----------------------------------------------------------

    def checks_for(self, sha: str) -> list[dict]:
        return self.checks.get(sha, [])

    def review_decision(self, pr: dict) -> str | None:
        latest: dict[str, str] = {}
        for r in pr["reviews"]:
            if r["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[r["author"]] = r["state"]
        states = set(latest.values())
        if "CHANGES_REQUESTED" in states:
            return "CHANGES_REQUESTED"
        if "APPROVED" in states:
            return "APPROVED"
        if self.protection.get(pr["base"], {}).get("required_reviews", 0) > 0:
            return "REVIEW_REQUIRED"
        return None

    @staticmethod
    def check_state(c: dict) -> str:
        """pass | fail | pending, the way gh buckets a check."""
        if c["kind"] == "status":
            return {"SUCCESS": "pass", "PENDING": "pending", "EXPECTED": "pending"}.get(
                c["state"], "fail")
        if c["status"] != "COMPLETED":
            return "pending"
        if c["conclusion"] in ("SUCCESS", "NEUTRAL", "SKIPPED"):
            return "pass"
        return "fail"

    def rollup_state(self, sha: str) -> str | None:
        cs = self.checks_for(sha)
        if not cs:
            return None
        states = {self.check_state(c) for c in cs}
        if "fail" in states:
            return "FAILURE"
        if "pending" in states:
            return "PENDING"
        return "SUCCESS"

    def blocked_reasons(self, pr: dict) -> list[str]:
        prot = self.protection.get(pr["base"])
        if not prot:
            return []
        out = []
        sha = self.head_oid(pr)
        by_name = {c["name"]: c for c in self.checks_for(sha)}
        for name in prot.get("required_checks", []):
            c = by_name.get(name)
            if c is None:
                out.append(f'Required status check "{name}" is expected.')
            elif self.check_state(c) == "fail":
                out.append(f'Required status check "{name}" is failing.')
            elif self.check_state(c) == "pending":
                out.append(f'Required status check "{name}" is in progress.')
        need = prot.get("required_reviews", 0)
        if need:
            decision = self.review_decision(pr)
            if decision == "CHANGES_REQUESTED":
                out.append("Changes have been requested.")
            elif decision != "APPROVED":
                out.append(f"At least {need} approving review is required by reviewers with "
                           f"write access.")
        return out

    def merge_state(self, pr: dict) -> tuple[str, str]:
        """(mergeable, mergeStateStatus) as GitHub reports them."""
        if pr["state"] != "OPEN":
            return "UNKNOWN", "UNKNOWN"
        if not self.git.mergeable(pr["base"], pr["head"]):
            return "CONFLICTING", "DIRTY"
        if pr["draft"]:
            return "MERGEABLE", "DRAFT"
        if self.blocked_reasons(pr):
            return "MERGEABLE", "BLOCKED"
        if self.rollup_state(self.head_oid(pr)) in ("FAILURE", "PENDING"):
            return "MERGEABLE", "UNSTABLE"
        return "MERGEABLE", "CLEAN"

    def add_check(self, spec: dict) -> dict:
        sha = spec.get("sha")
        if not sha and spec.get("pr") is not None:
            sha = self.head_oid(self.pr(spec["pr"]))
        if not sha and spec.get("ref"):
            sha = self.git.sha(spec["ref"])
        if not sha:
            raise ApiError(400, "checks: give sha, ref or pr")
        name = cut(spec.get("name") or "ci", 1024)
        kind = spec.get("kind", "check_run")
        if kind not in ("check_run", "status"):
            raise ApiError(400, "checks: kind is check_run or status")
        status = str(spec.get("status", "completed")).upper()
        conclusion = spec.get("conclusion")
        conclusion = str(conclusion).upper() if conclusion else None
        if kind == "check_run" and status == "COMPLETED" and not conclusion:
            conclusion = "SUCCESS"
        state = str(spec.get("state") or {"SUCCESS": "success", None: "pending"}.get(
            conclusion, "failure")).upper()
        cid = self.new_id()
        run_id = self.new_id()
        t = time.time()
        check = {"id": cid, "run_id": run_id, "kind": kind, "name": name, "sha": sha,
                 "status": status if kind == "check_run" else None,
                 "conclusion": conclusion if kind == "check_run" else None,
                 "state": state if kind == "status" else None,
                 "details_url": cut(spec.get("details_url") or (
                     f"{WEB}/{self.full}/actions/runs/{run_id}/job/{cid}" if kind == "check_run"
                     else f"https://ci.example.com/{self.full}/builds/{cid}"), 4096),
                 "log": cut(spec.get("log", "")), "summary": cut(spec.get("summary", ""), 65535),
                 "title": cut(spec.get("title", ""), 1024),
                 "workflow": cut(spec.get("workflow", "CI"), 1024),
                 "started": t, "completed": t if status == "COMPLETED" else None}
        lst = self.checks.setdefault(sha, [])
        if spec.get("replace", True):
            lst[:] = [c for c in lst if not (c["name"] == name and c["kind"] == kind)]
        lst.append(check)
        return check

    def find_check(self, cid: int) -> dict | None:
        for lst in self.checks.values():
            for c in lst:
                if c["id"] == cid or c["run_id"] == cid:
                    return c
        return None

    def add_review(self, pr: dict, state: str, body: str, author: str) -> dict:
        state = state.upper()
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"):
            raise ApiError(422, f"unknown review state {state}")
        r = {"id": self.new_id(), "state": state, "body": cut(body), "author": author,
             "submitted": time.time(), "commit": self.head_oid(pr)}
        r["node_id"] = f"PRR_{r['id']}"
        pr["reviews"].append(r)
        self.touch(pr)
        return r

    def add_review_comment(self, pr: dict, spec: dict) -> dict:
        review_id = spec.get("review_id")
        if review_id is None:
            review_id = self.add_review(pr, "COMMENTED", "", spec.get("author", "reviewer"))["id"]
        line = spec.get("line")
        c = {"id": self.new_id(), "review_id": review_id, "author": cut(spec.get("author",
             "reviewer"), 100), "path": cut(spec.get("path", ""), 4096),
             "line": int(line) if line is not None else None,
             "side": spec.get("side", "RIGHT"), "body": cut(spec.get("body", "")),
             "resolved": bool(spec.get("resolved", False)), "outdated": bool(spec.get("outdated",
             False)), "in_reply_to": spec.get("in_reply_to"), "created": time.time(),
             "commit": self.head_oid(pr)}
        pr["review_comments"].append(c)
        self.touch(pr)
        return c

    def add_comment(self, pr: dict, body: str, author: str) -> dict:
        c = {"id": self.new_id(), "author": cut(author, 100), "body": cut(body),
             "created": time.time()}
        pr["comments"].append(c)
        self.touch(pr)
        return c

    def write_push_hook(self) -> None:
        """Installs (or removes) the bare repo's pre-receive hook that refuses pushes to the
        branches protected with `reject_push`, with GitHub's GH006 message."""
        hooks = os.path.join(self.git.bare, "hooks")
        listing = os.path.join(hooks, "vnx-protected-branches")
        hook = os.path.join(hooks, "pre-receive")
        names = sorted(b for b, p in self.protection.items() if p.get("reject_push"))
        if not names:
            for path in (hook, listing):
                if os.path.exists(path):
                    os.unlink(path)
            return
        os.makedirs(hooks, exist_ok=True)
        with open(listing, "w") as fh:
            fh.write("".join(f"refs/heads/{n}\n" for n in names))
        with open(hook, "w") as fh:
            fh.write(PRE_RECEIVE_HOOK)
        os.chmod(hook, 0o755)

    # ---- scripted failures -----------------------------------------------------------

    def take_failure(self, path: str) -> dict | None:
        for f in self.failures:
            prefix = f.get("path_prefix") or ""
            if not path.startswith(prefix):
                continue
            f["count"] -= 1
            if f["count"] <= 0:
                self.failures.remove(f)
            return f
        return None

    # ---- read back -------------------------------------------------------------------

    def state_json(self) -> dict:
        prs = []
        for p in sorted(self.prs.values(), key=lambda p: p["number"])[:MAX_LIST]:
            mergeable, mss = self.merge_state(p)
            prs.append({"number": p["number"], "title": p["title"], "head": p["head"],
                        "base": p["base"], "state": p["state"], "draft": p["draft"],
                        "head_oid": self.head_oid(p), "merge_commit": p["merge_commit"],
                        "merge_method": p.get("merge_method"), "merged_by": p["merged_by"],
                        "review_decision": self.review_decision(p), "mergeable": mergeable,
                        "merge_state_status": mss, "blocked": self.blocked_reasons(p),
                        "comments": len(p["comments"]), "reviews": [
                            {"id": r["id"], "state": r["state"], "author": r["author"]}
                            for r in p["reviews"]],
                        "review_comments": len(p["review_comments"])})
        branches = {}
        out = self.git.run("for-each-ref", "--format=%(refname:short) %(objectname)",
                           "refs/heads", check=False)
        for line in out.splitlines()[:MAX_LIST]:
            b, _, sha = line.partition(" ")
            branches[b] = sha
        return {"repo": self.full, "default_branch": self.git.default_branch(),
                "branches": branches, "pull_requests": prs,
                "checks": {sha: [{"id": c["id"], "name": c["name"], "kind": c["kind"],
                                  "status": c["status"], "conclusion": c["conclusion"],
                                  "state": c["state"]} for c in lst[:MAX_LIST]]
                           for sha, lst in list(self.checks.items())[:MAX_LIST]},
                "protection": self.protection, "pending_failures": self.failures,
                "requests": self.request_count, "unknown_fields": self.unknown}


# --------------------------------------------------------------------------------------
# GraphQL objects
# --------------------------------------------------------------------------------------


def connection(items: list, args: dict, node=lambda x: x) -> dict:
    """A GitHub connection over `items` honouring first/last/after/before."""
    idx = list(range(len(items)))
    after, before = args.get("after"), args.get("before")
    if after is not None:
        try:
            idx = [i for i in idx if i > int(after)]
        except ValueError:
            pass
    if before is not None:
        try:
            idx = [i for i in idx if i < int(before)]
        except ValueError:
            pass
    window = idx
    first, last = args.get("first"), args.get("last")
    if isinstance(first, int):
        idx = idx[:first]
    if isinstance(last, int):
        idx = idx[-last:] if last else []
    nodes = [node(items[i]) for i in idx]
    has_next = bool(idx) and idx[-1] != window[-1]
    return {"__typename": "Connection", "nodes": nodes, "totalCount": len(items),
            "edges": [{"__typename": "Edge", "cursor": str(i), "node": n}
                      for i, n in zip(idx, nodes)],
            "pageInfo": {"__typename": "PageInfo", "hasNextPage": has_next,
                         "hasPreviousPage": bool(idx) and idx[0] > 0,
                         "endCursor": str(idx[-1]) if idx else None,
                         "startCursor": str(idx[0]) if idx else None}}


def actor(login: str | None) -> dict | None:
    if not login:
        return None
    return {"__typename": "User", "__implements": ("Actor", "Node"), "login": login,
            "id": f"U_{login}", "name": login, "url": f"{WEB}/{login}",
            "avatarUrl": f"{WEB}/{login}.png", "isBot": False}


class Schema:
    """Builds the GraphQL object graph over the Forge (rebuilt per request)."""

    def __init__(self, forge: Forge):
        self.f = forge

    # The fields a PullRequest has; `__type(name: "PullRequest")` lists them.
    PR_FIELDS = [
        "id", "number", "title", "body", "state", "closed", "url", "permalink",
        "baseRefName", "headRefName", "headRefOid", "baseRefOid", "isDraft", "author",
        "createdAt", "updatedAt", "closedAt", "mergedAt", "mergedBy", "mergeCommit",
        "mergeable", "mergeStateStatus", "reviewDecision", "isCrossRepository",
        "headRepositoryOwner", "headRepository", "baseRepository", "repository",
        "maintainerCanModify", "additions", "deletions", "changedFiles", "comments",
        "reviews", "latestReviews", "reviewRequests", "reviewThreads", "commits", "files",
        "labels", "assignees", "milestone", "projectCards", "projectItems",
        "autoMergeRequest", "isInMergeQueue", "isMergeQueueEnabled", "potentialMergeCommit",
        "statusCheckRollup", "viewerDidAuthor", "locked", "activeLockReason",
        "reactionGroups", "authorAssociation",
    ]

    def repo(self) -> dict:
        f = self.f
        default = f.git.default_branch()

        def pull_requests(args):
            states = args.get("states") or ["OPEN", "CLOSED", "MERGED"]
            if isinstance(states, str):
                states = [states]
            head = args.get("headRefName")
            base = args.get("baseRefName")
            prs = [p for p in f.prs.values() if p["state"] in states
                   and (head is None or p["head"] == head)
                   and (base is None or p["base"] == base)]
            order = args.get("orderBy") or {}
            prs.sort(key=lambda p: p["created"] if order.get("field") != "UPDATED_AT"
                     else p["updated"], reverse=order.get("direction", "DESC") == "DESC")
            return connection(prs, args, self.pr)

        def pull_request(args):
            n = args.get("number")
            if n not in f.prs:
                raise ApiError(200, f"Could not resolve to a PullRequest with the number of {n}.",
                               "NOT_FOUND")
            return self.pr(f.prs[n])

        def ref(args):
            name = str(args.get("qualifiedName", "")).removeprefix("refs/heads/")
            sha = f.git.sha(name)
            return self.ref(name, sha) if sha else None

        owner = {"__typename": "User", "__implements": ("RepositoryOwner",), "login": f.owner,
                 "id": f"U_{f.owner}", "url": f"{WEB}/{f.owner}"}
        return {
            "__typename": "Repository", "__implements": ("Node",), "id": "R_kgDOrepo01",
            "name": f.name, "nameWithOwner": f.full, "owner": owner,
            "url": f"{WEB}/{f.full}", "sshUrl": f"git@github.com:{f.full}.git",
            "description": "A scripted repository", "homepageUrl": "", "isPrivate": False,
            "visibility": "PUBLIC", "isFork": False, "isArchived": False, "isMirror": False,
            "isTemplate": False, "isEmpty": f.git.sha(default) is None,
            "hasIssuesEnabled": True, "hasWikiEnabled": False, "hasProjectsEnabled": False,
            "hasDiscussionsEnabled": False, "viewerPermission": "ADMIN",
            "viewerCanAdminister": True, "viewerSubscription": "SUBSCRIBED",
            "createdAt": now_iso(f.started), "updatedAt": now_iso(), "pushedAt": now_iso(),
            "parent": None, "templateRepository": None, "licenseInfo": None,
            "primaryLanguage": None, "languages": lambda a: connection([], a),
            "stargazerCount": 0, "forkCount": 0, "watchers": lambda a: connection([], a),
            "issues": lambda a: connection([], a), "labels": lambda a: connection([], a),
            "milestones": lambda a: connection([], a),
            "repositoryTopics": lambda a: connection([], a),
            "mergeCommitAllowed": True, "rebaseMergeAllowed": True, "squashMergeAllowed": True,
            "deleteBranchOnMerge": False, "autoMergeAllowed": False,
            "defaultBranchRef": self.ref(default, f.git.sha(default)),
            "pullRequests": pull_requests, "pullRequest": pull_request, "ref": ref,
            "securityPolicyUrl": None, "isSecurityPolicyEnabled": False,
            "isBlankIssuesEnabled": True, "isUserConfigurationRepository": False,
            "contactLinks": [], "issueTemplates": [], "pullRequestTemplates": [],
            "fundingLinks": [], "codeOfConduct": None, "viewerHasStarred": False,
            "viewerPossibleCommitEmails": [], "diskUsage": 1, "mirrorUrl": None,
            "openGraphImageUrl": "", "usesCustomOpenGraphImage": False,
            "latestRelease": None, "assignableUsers": lambda a: connection([], a),
            "mentionableUsers": lambda a: connection([], a),
            "projects": lambda a: connection([], a), "projectsV2": lambda a: connection([], a),
        }

    def ref(self, name: str, sha: str | None) -> dict:
        return {"__typename": "Ref", "id": f"REF_{name}", "name": name,
                "prefix": "refs/heads/", "target": self.commit(sha) if sha else None}

    def commit(self, sha: str) -> dict:
        f = self.f

        def rollup():
            cs = f.checks_for(sha)
            if not cs:
                return None
            return {"__typename": "StatusCheckRollup", "state": f.rollup_state(sha),
                    "contexts": lambda a: connection(cs, a, self.check)}

        return {"__typename": "Commit", "__implements": ("GitObject", "Node"), "id": f"C_{sha}",
                "oid": sha, "abbreviatedOid": sha[:7], "url": f"{WEB}/{f.full}/commit/{sha}",
                "statusCheckRollup": rollup(),
                "status": None if not cs_status(f, sha) else {
                    "__typename": "Status", "state": f.rollup_state(sha),
                    "contexts": [self.check(c) for c in cs_status(f, sha)]},
                **self.commit_meta(sha)}

    def commit_meta(self, sha: str) -> dict:
        out = self.f.git.run("log", "-1", "--format=%s%x00%b%x00%aI%x00%cI%x00%an%x00%ae",
                             sha, "--", check=False)
        parts = out.split("\x00") if out else []
        if len(parts) != 6:
            return {"messageHeadline": "", "messageBody": "", "message": "",
                    "authoredDate": None, "committedDate": None,
                    "authors": lambda a: connection([], a)}
        subject, body, adate, cdate, an, ae = parts
        author = {"__typename": "GitActor", "name": an, "email": ae, "user": None}
        return {"messageHeadline": subject, "messageBody": body.strip(),
                "message": (subject + "\n\n" + body).strip(), "authoredDate": adate,
                "committedDate": cdate, "author": author,
                "authors": lambda a: connection([author], a)}

    def check(self, c: dict) -> dict:
        f = self.f
        if c["kind"] == "status":
            return {"__typename": "StatusContext", "__implements": ("Node",),
                    "id": f"SC_{c['id']}", "context": c["name"], "state": c["state"],
                    "targetUrl": c["details_url"], "description": c["title"] or c["summary"],
                    "createdAt": now_iso(c["started"]), "isRequired": lambda a: c["name"] in
                    f.protection.get(a.get("pullRequestNumber") and
                                     f.prs.get(a["pullRequestNumber"], {}).get("base"), {})
                    .get("required_checks", [])}
        run = {"__typename": "WorkflowRun", "id": f"WFR_{c['run_id']}", "databaseId": c["run_id"],
               "url": f"{WEB}/{f.full}/actions/runs/{c['run_id']}",
               "workflow": {"__typename": "Workflow", "name": c["workflow"]}}
        return {"__typename": "CheckRun", "__implements": ("Node",), "id": f"CR_{c['id']}",
                "databaseId": c["id"], "name": c["name"], "status": c["status"],
                "conclusion": c["conclusion"], "detailsUrl": c["details_url"],
                "startedAt": now_iso(c["started"]),
                "completedAt": now_iso(c["completed"]) if c["completed"] else None,
                "title": c["title"], "summary": c["summary"], "text": c["log"],
                "permalink": c["details_url"],
                "checkSuite": {"__typename": "CheckSuite", "workflowRun": run,
                               "app": {"__typename": "App", "name": "GitHub Actions",
                                       "slug": "github-actions"}},
                "isRequired": lambda a: c["name"] in f.protection.get(
                    f.prs.get(a.get("pullRequestNumber"), {}).get("base"), {})
                .get("required_checks", [])}

    def pr(self, p: dict) -> dict:
        f = self.f
        head = self.f.head_oid(p)
        mergeable, mss = f.merge_state(p)
        url = f"{WEB}/{f.full}/pull/{p['number']}"
        n = p["number"]

        def review(r):
            return {"__typename": "PullRequestReview", "__implements": ("Node", "Comment"),
                    "id": r["node_id"], "databaseId": r["id"], "author": actor(r["author"]),
                    "authorAssociation": "MEMBER", "body": r["body"], "state": r["state"],
                    "submittedAt": now_iso(r["submitted"]), "createdAt": now_iso(r["submitted"]),
                    "includesCreatedEdit": False, "reactionGroups": [],
                    "url": f"{url}#pullrequestreview-{r['id']}",
                    "commit": {"__typename": "Commit", "oid": r["commit"]},
                    "comments": lambda a: connection([c for c in p["review_comments"]
                                                      if c["review_id"] == r["id"]], a,
                                                     review_comment)}

        def review_comment(c):
            return {"__typename": "PullRequestReviewComment", "id": f"PRRC_{c['id']}",
                    "databaseId": c["id"], "author": actor(c["author"]), "body": c["body"],
                    "path": c["path"], "line": c["line"], "originalLine": c["line"],
                    "diffHunk": "", "createdAt": now_iso(c["created"]), "outdated": c["outdated"],
                    "url": f"{url}#discussion_r{c['id']}", "authorAssociation": "MEMBER",
                    "reactionGroups": [], "includesCreatedEdit": False,
                    "replyTo": None if not c["in_reply_to"] else {"__typename":
                        "PullRequestReviewComment", "databaseId": c["in_reply_to"]}}

        def threads(a):
            roots = [c for c in p["review_comments"] if not c["in_reply_to"]]
            return connection(roots, a, lambda c: {
                "__typename": "PullRequestReviewThread", "id": f"PRRT_{c['id']}",
                "isResolved": c["resolved"], "isOutdated": c["outdated"], "path": c["path"],
                "line": c["line"], "originalLine": c["line"], "diffSide": c["side"],
                "isCollapsed": c["resolved"], "resolvedBy": None,
                "comments": lambda a2: connection(
                    [c] + [r for r in p["review_comments"] if r["in_reply_to"] == c["id"]],
                    a2, review_comment)})

        def comment(c):
            return {"__typename": "IssueComment", "__implements": ("Node", "Comment"),
                    "id": f"IC_{c['id']}", "databaseId": c["id"], "author": actor(c["author"]),
                    "authorAssociation": "MEMBER", "body": c["body"],
                    "createdAt": now_iso(c["created"]), "includesCreatedEdit": False,
                    "isMinimized": False, "minimizedReason": None, "reactionGroups": [],
                    "url": f"{url}#issuecomment-{c['id']}", "viewerDidAuthor":
                        c["author"] == f.viewer}

        def latest_reviews(a):
            latest: dict[str, dict] = {}
            for r in p["reviews"]:
                if r["state"] != "PENDING":
                    latest[r["author"]] = r
            return connection(list(latest.values()), a, review)

        def commits(a):
            base_sha = f.git.sha(p["base"]) if p["state"] == "OPEN" else None
            if base_sha and head != "0" * 40:
                shas = f.git.run("rev-list", "--reverse", f"{base_sha}..{head}",
                                 check=False).split()
            else:
                shas = [head]
            return connection(shas or [head], a, lambda s: {
                "__typename": "PullRequestCommit", "id": f"PRC_{s}", "url": f"{url}/commits/{s}",
                "commit": self.commit(s)})

        return {
            "__typename": "PullRequest", "__implements": ("Node", "Closable", "Comment"),
            "id": p["node_id"], "databaseId": p["db_id"], "number": n, "title": p["title"],
            "body": p["body"], "state": p["state"], "closed": p["state"] != "OPEN",
            "merged": p["state"] == "MERGED", "url": url, "permalink": url,
            "resourcePath": f"/{f.full}/pull/{n}",
            "baseRefName": p["base"], "headRefName": p["head"], "headRefOid": head,
            "baseRefOid": f.git.sha(p["base"]), "isDraft": p["draft"],
            "baseRef": {"__typename": "Ref", "name": p["base"], "prefix": "refs/heads/",
                        "branchProtectionRule": None if p["base"] not in f.protection else {
                            "__typename": "BranchProtectionRule",
                            "requiresStrictStatusChecks": False,
                            "requiresStatusChecks": bool(
                                f.protection[p["base"]]["required_checks"]),
                            "requiredStatusCheckContexts":
                                f.protection[p["base"]]["required_checks"],
                            "requiredApprovingReviewCount":
                                f.protection[p["base"]]["required_reviews"]}},
            "author": actor(p["author"]), "authorAssociation": "OWNER",
            "createdAt": now_iso(p["created"]), "updatedAt": now_iso(p["updated"]),
            "closedAt": now_iso(p["closed"]) if p["closed"] else None,
            "mergedAt": now_iso(p["merged"]) if p["merged"] else None,
            "mergedBy": actor(p["merged_by"]),
            "mergeCommit": {"__typename": "Commit", "oid": p["merge_commit"]}
            if p["merge_commit"] else None,
            "potentialMergeCommit": None, "mergeable": mergeable, "mergeStateStatus": mss,
            "reviewDecision": f.review_decision(p), "isCrossRepository": False,
            "headRepositoryOwner": {"__typename": "User", "id": f"U_{f.owner}",
                                    "login": f.owner, "name": f.owner},
            "headRepository": {"__typename": "Repository", "id": "R_kgDOrepo01", "name": f.name,
                               "nameWithOwner": f.full, "owner": {"__typename": "User",
                                                                  "login": f.owner}},
            "baseRepository": {"__typename": "Repository", "id": "R_kgDOrepo01",
                               "name": f.name, "nameWithOwner": f.full,
                               "owner": {"__typename": "User", "login": f.owner}},
            "repository": {"__typename": "Repository", "id": "R_kgDOrepo01", "name": f.name,
                           "nameWithOwner": f.full, "owner": {"__typename": "User",
                                                              "login": f.owner}},
            "maintainerCanModify": False, "additions": 0, "deletions": 0, "changedFiles": 0,
            "locked": False, "activeLockReason": None, "viewerDidAuthor":
                p["author"] == f.viewer, "reactionGroups": [],
            "comments": lambda a: connection(p["comments"], a, comment),
            "reviews": lambda a: connection(
                [r for r in p["reviews"] if not a.get("states") or r["state"] in a["states"]],
                a, review),
            "latestReviews": latest_reviews,
            "latestOpinionatedReviews": latest_reviews,
            "reviewRequests": lambda a: connection([], a),
            "reviewThreads": threads,
            "commits": commits,
            "files": lambda a: connection([], a),
            "labels": lambda a: connection([], a), "assignees": lambda a: connection([], a),
            "milestone": None, "projectCards": lambda a: connection([], a),
            "projectItems": lambda a: connection([], a), "autoMergeRequest": None,
            "isInMergeQueue": False, "isMergeQueueEnabled": False,
            "statusCheckRollup": None,  # gh asks `statusCheckRollup: commits(last: 1)`
        }

    def node(self, node_id: str) -> dict | None:
        p = self.f.pr_by_node(node_id)
        if p is not None:
            return self.pr(p)
        if node_id == "R_kgDOrepo01":
            return self.repo()
        return None

    def query_root(self) -> dict:
        f = self.f

        def repository(args):
            if (str(args.get("owner", "")).lower(), str(args.get("name", "")).lower()) != (
                    f.owner.lower(), f.name.lower()):
                raise ApiError(200, f"Could not resolve to a Repository with the name "
                               f"'{args.get('owner')}/{args.get('name')}'.", "NOT_FOUND")
            return self.repo()

        def search(args):
            q = str(args.get("query", ""))
            items = []
            if "is:pr" in q or "type:pr" in q:
                want_open = "state:open" in q or "is:open" in q
                mine = f"author:{f.viewer}" in q or "author:@me" in q
                for p in sorted(f.prs.values(), key=lambda p: -p["created"]):
                    if want_open and p["state"] != "OPEN":
                        continue
                    if mine and p["author"] != f.viewer:
                        continue
                    if "review-requested:" in q:
                        continue
                    items.append(p)
            c = connection(items, args, self.pr)
            c["issueCount"] = len(items)
            return c

        return {"__typename": "Query", "repository": repository,
                "node": lambda a: self.node(a.get("id")),
                "nodes": lambda a: [self.node(i) for i in a.get("ids") or []],
                "viewer": {"__typename": "User", "login": f.viewer, "id": f"U_{f.viewer}",
                           "name": f.viewer, "url": f"{WEB}/{f.viewer}"},
                "search": search,
                "rateLimit": {"__typename": "RateLimit", "limit": 5000, "remaining": 4999,
                              "used": 1, "cost": 1, "resetAt": now_iso(time.time() + 3600)},
                "__type": lambda a: self.introspect(a.get("name"))}

    def introspect(self, name: str) -> dict | None:
        fields = {"PullRequest": self.PR_FIELDS,
                  "Repository": list(self.repo().keys()),
                  "Commit": ["oid", "statusCheckRollup", "status"],
                  "CheckRun": ["name", "status", "conclusion", "detailsUrl", "startedAt",
                               "completedAt", "checkSuite", "isRequired"],
                  "StatusContext": ["context", "state", "targetUrl", "createdAt",
                                    "description", "isRequired"]}.get(name)
        if fields is None:
            return None
        return {"__typename": "__Type", "name": name, "kind": "OBJECT",
                "fields": lambda a: [{"__typename": "__Field", "name": x}
                                     for x in fields if not x.startswith("__")],
                "enumValues": lambda a: [], "inputFields": []}

    def mutation_root(self) -> dict:
        f = self.f

        def inp(args) -> dict:
            return args.get("input") or {}

        def pr_by_id(i: dict) -> dict:
            p = f.pr_by_node(i.get("pullRequestId") or i.get("subjectId") or "")
            if p is None:
                raise ApiError(200, "Could not resolve to a node with the global id of "
                               f"'{i.get('pullRequestId') or i.get('subjectId')}'", "NOT_FOUND")
            return p

        def payload(p: dict, **extra) -> dict:
            d = {"__typename": "Payload", "clientMutationId": None, "pullRequest": self.pr(p)}
            d.update(extra)
            return d

        def create(args):
            i = inp(args)
            p = f.create_pr(str(i.get("headRefName", "")), str(i.get("baseRefName", "")),
                            i.get("title", ""), i.get("body", ""), bool(i.get("draft")))
            return payload(p)

        def update(args):
            i = inp(args)
            p = pr_by_id(i)
            if p["state"] == "MERGED":
                raise ApiError(200, "Can not change a merged pull request")
            if "title" in i and i["title"] is not None:
                p["title"] = cut(i["title"], 1024)
            if "body" in i and i["body"] is not None:
                p["body"] = cut(i["body"])
            if i.get("baseRefName"):
                if f.git.sha(i["baseRefName"]) is None:
                    raise ApiError(200, "Proposed base branch was not found")
                p["base"] = i["baseRefName"]
            if i.get("state") in ("OPEN", "CLOSED"):
                if i["state"] == "CLOSED":
                    f.close_pr(p, f.viewer)
                elif p["state"] == "CLOSED":
                    p["state"], p["closed"] = "OPEN", None
            f.touch(p)
            return payload(p)

        def close(args):
            p = pr_by_id(inp(args))
            f.close_pr(p, f.viewer)
            return payload(p)

        def reopen(args):
            p = pr_by_id(inp(args))
            if p["state"] == "CLOSED":
                p["state"], p["closed"], p["head_oid_at_close"] = "OPEN", None, None
            return payload(p)

        def ready(args):
            p = pr_by_id(inp(args))
            p["draft"] = False
            f.touch(p)
            return payload(p)

        def to_draft(args):
            p = pr_by_id(inp(args))
            p["draft"] = True
            f.touch(p)
            return payload(p)

        def merge(args):
            i = inp(args)
            p = pr_by_id(i)
            method = str(i.get("mergeMethod") or "MERGE").upper()
            f.merge_pr(p, method, f.viewer, head_oid=i.get("expectedHeadOid"),
                       title=i.get("commitHeadline"), body=i.get("commitBody"))
            return payload(p)

        def add_comment(args):
            i = inp(args)
            p = pr_by_id(i)
            c = f.add_comment(p, i.get("body", ""), f.viewer)
            url = f"{WEB}/{f.full}/pull/{p['number']}#issuecomment-{c['id']}"
            node = {"__typename": "IssueComment", "id": f"IC_{c['id']}", "url": url,
                    "body": c["body"]}
            return {"__typename": "Payload", "clientMutationId": None,
                    "commentEdge": {"__typename": "Edge", "node": node}, "subject": self.pr(p)}

        def add_review(args):
            i = inp(args)
            p = pr_by_id(i)
            event = str(i.get("event") or "COMMENT").upper()
            state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED",
                     "COMMENT": "COMMENTED"}.get(event, "PENDING")
            r = f.add_review(p, state, i.get("body", ""), f.viewer)
            return {"__typename": "Payload", "clientMutationId": None,
                    "pullRequestReview": {"__typename": "PullRequestReview", "id": r["node_id"],
                                          "state": r["state"]}, "pullRequest": self.pr(p)}

        return {"__typename": "Mutation", "createPullRequest": create,
                "updatePullRequest": update, "closePullRequest": close,
                "reopenPullRequest": reopen, "markPullRequestReadyForReview": ready,
                "convertPullRequestToDraft": to_draft, "mergePullRequest": merge,
                "addComment": add_comment, "addPullRequestReview": add_review}


def cs_status(f: Forge, sha: str) -> list[dict]:
    return [c for c in f.checks_for(sha) if c["kind"] == "status"]


# --------------------------------------------------------------------------------------
# REST shapes
# --------------------------------------------------------------------------------------


def rest_user(login: str | None) -> dict | None:
    if not login:
        return None
    return {"login": login, "id": abs(hash(login)) % 10**8, "type": "User",
            "html_url": f"{WEB}/{login}", "url": f"{API}/users/{login}"}


def rest_repo(f: Forge) -> dict:
    return {"id": 1, "node_id": "R_kgDOrepo01", "name": f.name, "full_name": f.full,
            "owner": rest_user(f.owner), "private": False, "fork": False,
            "html_url": f"{WEB}/{f.full}", "url": f"{API}/repos/{f.full}",
            "clone_url": f"{WEB}/{f.full}.git", "default_branch": f.git.default_branch(),
            "permissions": {"admin": True, "push": True, "pull": True},
            "allow_merge_commit": True, "allow_squash_merge": True, "allow_rebase_merge": True}


def rest_pr(f: Forge, p: dict) -> dict:
    mergeable, mss = f.merge_state(p)
    n = p["number"]
    return {"id": p["db_id"], "node_id": p["node_id"], "number": n,
            "url": f"{API}/repos/{f.full}/pulls/{n}", "html_url": f"{WEB}/{f.full}/pull/{n}",
            "state": "open" if p["state"] == "OPEN" else "closed", "title": p["title"],
            "body": p["body"], "draft": p["draft"], "user": rest_user(p["author"]),
            "created_at": now_iso(p["created"]), "updated_at": now_iso(p["updated"]),
            "closed_at": now_iso(p["closed"]) if p["closed"] else None,
            "merged_at": now_iso(p["merged"]) if p["merged"] else None,
            "merged": p["state"] == "MERGED", "merged_by": rest_user(p["merged_by"]),
            "merge_commit_sha": p["merge_commit"], "mergeable": mergeable == "MERGEABLE",
            "mergeable_state": mss.lower(),
            "head": {"ref": p["head"], "sha": f.head_oid(p), "label": f"{f.owner}:{p['head']}",
                     "repo": rest_repo(f)},
            "base": {"ref": p["base"], "sha": f.git.sha(p["base"]),
                     "label": f"{f.owner}:{p['base']}", "repo": rest_repo(f)}}


def rest_review_comment(f: Forge, p: dict, c: dict) -> dict:
    n = p["number"]
    return {"id": c["id"], "node_id": f"PRRC_{c['id']}", "pull_request_review_id": c["review_id"],
            "user": rest_user(c["author"]), "path": c["path"], "line": c["line"],
            "original_line": c["line"], "side": c["side"], "body": c["body"],
            "commit_id": c["commit"], "original_commit_id": c["commit"],
            "in_reply_to_id": c["in_reply_to"], "created_at": now_iso(c["created"]),
            "updated_at": now_iso(c["created"]), "diff_hunk": "",
            "html_url": f"{WEB}/{f.full}/pull/{n}#discussion_r{c['id']}",
            "pull_request_url": f"{API}/repos/{f.full}/pulls/{n}"}


def rest_check_run(f: Forge, c: dict) -> dict:
    return {"id": c["id"], "name": c["name"], "head_sha": c["sha"],
            "status": (c["status"] or "completed").lower(),
            "conclusion": c["conclusion"].lower() if c["conclusion"] else None,
            "details_url": c["details_url"], "html_url": c["details_url"],
            "started_at": now_iso(c["started"]),
            "completed_at": now_iso(c["completed"]) if c["completed"] else None,
            "output": {"title": c["title"] or None, "summary": c["summary"] or None,
                       "text": c["log"] or None},
            "app": {"slug": "github-actions", "name": "GitHub Actions"}}


def rest_job(f: Forge, c: dict) -> dict:
    status = (c["status"] or "completed").lower()
    concl = c["conclusion"].lower() if c["conclusion"] else None
    return {"id": c["id"], "run_id": c["run_id"], "name": c["name"], "head_sha": c["sha"],
            "status": status, "conclusion": concl, "html_url": c["details_url"],
            "url": f"{API}/repos/{f.full}/actions/jobs/{c['id']}",
            "run_url": f"{API}/repos/{f.full}/actions/runs/{c['run_id']}",
            "started_at": now_iso(c["started"]),
            "completed_at": now_iso(c["completed"]) if c["completed"] else None,
            "steps": [{"name": "Set up job", "status": "completed", "conclusion": "success",
                       "number": 1},
                      {"name": "Run tests", "status": status, "conclusion": concl,
                       "number": 2}]}


def rest_run(f: Forge, c: dict) -> dict:
    n = None
    for p in f.prs.values():
        if f.head_oid(p) == c["sha"]:
            n = p
    return {"id": c["run_id"], "name": c["workflow"], "display_title": c["workflow"],
            "head_sha": c["sha"], "head_branch": n["head"] if n else None,
            "status": (c["status"] or "completed").lower(),
            "conclusion": c["conclusion"].lower() if c["conclusion"] else None,
            "event": "pull_request", "workflow_id": 1, "run_attempt": 1,
            "html_url": f"{WEB}/{f.full}/actions/runs/{c['run_id']}",
            "url": f"{API}/repos/{f.full}/actions/runs/{c['run_id']}",
            "jobs_url": f"{API}/repos/{f.full}/actions/runs/{c['run_id']}/jobs",
            "logs_url": f"{API}/repos/{f.full}/actions/runs/{c['run_id']}/logs",
            "created_at": now_iso(c["started"]), "updated_at": now_iso(c["started"]),
            "pull_requests": [{"number": n["number"]}] if n else []}


def run_logs_zip(c: dict) -> bytes:
    """The zip `GET /actions/runs/ID/logs` redirects to: one file per job step."""
    buf = io.BytesIO()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(c["started"]))
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{c['name']}/1_Set up job.txt", f"{stamp} Set up job\n")
        lines = c["log"].splitlines() or [""]
        z.writestr(f"{c['name']}/2_Run tests.txt",
                   "".join(f"{stamp} {line}\n" for line in lines))
    return buf.getvalue()


def job_log_text(c: dict) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(c["started"]))
    return "".join(f"{stamp} {line}\n" for line in (c["log"].splitlines() or [""]))


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
                    r["author"]), "body": r["body"], "state": r["state"], "commit_id": r["commit"],
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
        if len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments":
            p = f.pr(rest[1])
            if m == "POST":
                c = f.add_comment(p, (body or {}).get("body", ""), f.viewer)
                return 201, {"id": c["id"], "body": c["body"]}, {}
            return 200, [{"id": c["id"], "node_id": f"IC_{c['id']}", "user": rest_user(
                c["author"]), "body": c["body"], "created_at": now_iso(c["created"]),
                "html_url": f"{WEB}/{f.full}/pull/{p['number']}#issuecomment-{c['id']}"}
                for c in p["comments"]], {}
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
            return 200, f.state_json()
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
        if what == "review":
            p = f.pr(b.get("pr"))
            r = f.add_review(p, b.get("state", "COMMENTED"), b.get("body", ""),
                             cut(b.get("author", "reviewer"), 100))
            for c in b.get("comments", []) or []:
                f.add_review_comment(p, dict(c, review_id=r["id"],
                                             author=b.get("author", "reviewer")))
            return 200, {"id": r["id"], "node_id": r["node_id"]}
        if what == "review-comment":
            p = f.pr(b.get("pr"))
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
