"""The state behind github_api.py: one repository over a real bare git repository.

Pull requests, checks (check runs and status contexts per commit SHA), reviews, review
comments, issue comments, branch protection and scripted failures; merges write real
commits in the bare repository. Python 3.11 standard library only.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

MAX_TEXT = 1 << 20          # a stored text (comment, log) is cut to this many characters
MAX_LIST = 200              # at most this many entries in one control answer
# How GitHub associates an author with a repository (`authorAssociation`, REST's
# `author_association`): the CommentAuthorAssociation enum, spelled as GitHub spells it.
ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR",
                "FIRST_TIMER", "MANNEQUIN", "NONE")
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
        # login -> authorAssociation, as `/_control/association` (or a review's or comment's
        # `association`) set it; see `association`.
        self.associations: dict[str, str] = {}

    @property
    def full(self) -> str:
        return f"{self.owner}/{self.name}"

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def association(self, login: str | None) -> str:
        """How GitHub associates `login` with this repository: as set for it, else OWNER for
        the repository's owner and the viewer (the token's login, whose repository the tests
        push to), else COLLABORATOR (a test's scripted reviewers are the project's people
        unless it says otherwise)."""
        if login in self.associations:
            return self.associations[login]
        if login in (self.owner, self.viewer):
            return "OWNER"
        return "COLLABORATOR" if login else "NONE"

    def set_association(self, login: str, association) -> None:
        if association is None:
            return
        if association not in ASSOCIATIONS:
            raise ApiError(400, f"association must be one of {', '.join(ASSOCIATIONS)}, "
                           f"not {association!r}")
        self.associations[cut(login, 100)] = association

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
        from github_issues import closed_by_merge  # the issues its body says it closes
        closed_by_merge(self, pr, by)
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
                            {"id": r["id"], "state": r["state"], "author": r["author"],
                             "association": self.association(r["author"])}
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
