"""Issues in github_api.py: their state, their REST shapes and routes, and the closing of
an issue by the merge of a pull request that says it closes it.

As GitHub's REST API does: issues and pull requests share one sequence of numbers; every
pull request is an issue too (`GET /issues/N` answers it with a `pull_request` member, and
`GET /issues` lists it among the issues); an issue carries its author's
`author_association`; `labels=a,b` lists the issues that carry every one of them; adding a
label the repository lacks makes it. A pull request merged into the default branch closes
each issue its body names with a closing keyword (close, closes, closed, fix, fixes, fixed,
resolve, resolves, resolved, then `#N`), except inside code (a fenced block or inline code
span), which GitHub does not read for keywords. Python 3.11 standard library only.
"""

from __future__ import annotations

import re
import time

from github_forge import API, WEB, ApiError, Forge, cut, now_iso
from github_rest import rest_user

KEYWORD = re.compile(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b")


def issues_of(f: Forge) -> dict:
    if not hasattr(f, "issues"):
        f.issues = {}
        f.labels = {}
    return f.issues


def label(f: Forge, name: str) -> dict:
    issues_of(f)
    name = cut(name, 50)
    if name not in f.labels:
        f.labels[name] = {"id": f.new_id(), "name": name, "color": "ededed",
                          "description": None, "default": False}
    lab = f.labels[name]
    return {"id": lab["id"], "node_id": f"LA_{lab['id']}",
            "url": f"{API}/repos/{f.full}/labels/{name}", "name": name,
            "color": lab["color"], "default": False, "description": lab["description"]}


def create(f: Forge, spec: dict, author: str) -> dict:
    """A new issue, numbered after the last issue or pull request."""
    n = f.next_number
    f.next_number += 1
    t = time.time()
    issue = {"number": n, "db_id": f.new_id(), "title": cut(spec.get("title") or "", 1024),
             "body": cut(spec.get("body") or ""), "author": cut(author, 100), "state": "OPEN",
             "state_reason": None, "labels": [], "assignees": [], "comments": [],
             "created": t, "updated": t, "closed": None, "closed_by": None}
    for name in spec.get("labels") or []:
        add_label(f, issue, str(name))
    for login in spec.get("assignees") or []:
        issue["assignees"].append(cut(str(login), 100))
    issues_of(f)[n] = issue
    return issue


def add_label(f: Forge, item: dict, name: str) -> None:
    label(f, name)
    names = item.setdefault("labels", [])
    if cut(name, 50) not in names:
        names.append(cut(name, 50))


def find(f: Forge, number) -> tuple[dict | None, dict | None]:
    """(issue, pull request) numbered `number`: one of them, or a 404."""
    try:
        n = int(number)
    except (TypeError, ValueError):
        raise ApiError(404, "Not Found") from None
    if n in issues_of(f):
        return f.issues[n], None
    if n in f.prs:
        return None, f.prs[n]
    raise ApiError(404, "Not Found")


def close(f: Forge, issue: dict, by: str, reason: str = "completed") -> None:
    if issue["state"] == "CLOSED":
        return
    issue["state"] = "CLOSED"
    issue["state_reason"] = reason
    issue["closed"] = issue["updated"] = time.time()
    issue["closed_by"] = cut(by, 100)


def reopen(f: Forge, issue: dict) -> None:
    issue["state"] = "OPEN"
    issue["state_reason"] = "reopened"
    issue["closed"] = issue["closed_by"] = None
    issue["updated"] = time.time()


def without_code(text: str) -> str:
    """`text` with its fenced code blocks (a run of 3+ backticks or tildes up to a closing
    run at least as long, or the end) and inline code spans taken out."""
    out, fence = [], None
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        m = re.match(r"(`{3,}|~{3,})", stripped)
        if fence is None and m and len(line) - len(stripped) <= 3:
            fence = m.group(1)
            continue
        if fence is not None:
            if stripped.startswith(fence[0] * len(fence)) and \
                    not stripped.rstrip().strip(fence[0]):
                fence = None
            continue
        out.append(re.sub(r"(`+)(?:(?!\1).)+\1", "", line))
    return "\n".join(out)


def closed_by_merge(f: Forge, pr: dict, by: str) -> list[int]:
    """What GitHub does when `pr` merges: into the default branch, each open issue its body
    names with a closing keyword (outside code) is closed."""
    if pr["base"] != f.git.default_branch():
        return []
    closed = []
    for m in KEYWORD.finditer(without_code(pr.get("body") or "")):
        issue = issues_of(f).get(int(m.group(1)))
        if issue is not None and issue["state"] == "OPEN":
            close(f, issue, by)
            issue["closed_by_pr"] = pr["number"]
            closed.append(issue["number"])
    return closed


def rest_issue(f: Forge, issue: dict | None, pr: dict | None = None) -> dict:
    item = issue if issue is not None else pr
    n = item["number"]
    base = f"{API}/repos/{f.full}/issues/{n}"
    state = "open" if item["state"] == "OPEN" else "closed"
    out = {"id": item["db_id"], "node_id": f"I_kwDO{n:06d}", "url": base,
           "repository_url": f"{API}/repos/{f.full}", "labels_url": f"{base}/labels{{/name}}",
           "comments_url": f"{base}/comments", "events_url": f"{base}/events",
           "html_url": f"{WEB}/{f.full}/{'issues' if issue is not None else 'pull'}/{n}",
           "number": n, "state": state, "title": item["title"], "body": item["body"],
           "user": rest_user(item["author"]),
           "labels": [label(f, x) for x in item.get("labels", [])],
           "assignee": rest_user((item.get("assignees") or [None])[0]),
           "assignees": [rest_user(a) for a in item.get("assignees", [])],
           "milestone": None, "locked": False, "comments": len(item["comments"]),
           "created_at": now_iso(item["created"]), "updated_at": now_iso(item["updated"]),
           "closed_at": now_iso(item["closed"]) if item["closed"] else None,
           "author_association": f.association(item["author"])}
    if issue is not None:
        out["state_reason"] = issue["state_reason"]
        out["closed_by"] = rest_user(issue["closed_by"])
    else:
        out["pull_request"] = {"url": f"{API}/repos/{f.full}/pulls/{n}",
                               "html_url": f"{WEB}/{f.full}/pull/{n}",
                               "merged_at": now_iso(pr["merged"]) if pr["merged"] else None}
    return out


def rest_comment(f: Forge, item: dict, c: dict, kind: str) -> dict:
    return {"id": c["id"], "node_id": f"IC_{c['id']}", "user": rest_user(c["author"]),
            "author_association": f.association(c["author"]), "body": c["body"],
            "created_at": now_iso(c["created"]), "updated_at": now_iso(c["created"]),
            "issue_url": f"{API}/repos/{f.full}/issues/{item['number']}",
            "url": f"{API}/repos/{f.full}/issues/comments/{c['id']}",
            "html_url": f"{WEB}/{f.full}/{kind}/{item['number']}#issuecomment-{c['id']}"}


def listed(f: Forge, query: dict) -> list[dict]:
    """`GET /issues`: issues and pull requests, newest first unless `direction=asc`."""
    state = query.get("state", "open")
    wanted = [x.strip() for x in query.get("labels", "").split(",") if x.strip()]
    assignee = query.get("assignee")
    creator = query.get("creator")
    items = [(i, None) for i in issues_of(f).values()] + [(None, p) for p in f.prs.values()]
    out = []
    for issue, pr in items:
        item = issue if issue is not None else pr
        if state != "all" and (state == "open") != (item["state"] == "OPEN"):
            continue
        if any(w not in item.get("labels", []) for w in wanted):
            continue
        assignees = item.get("assignees", [])
        if assignee == "none" and assignees:
            continue
        if assignee == "*" and not assignees:
            continue
        if assignee not in (None, "none", "*") and assignee not in assignees:
            continue
        if creator and item["author"] != creator:
            continue
        out.append((item["created"], item["number"], issue, pr))
    out.sort(key=lambda x: (x[0], x[1]), reverse=query.get("direction", "desc") != "asc")
    per_page = min(int(query.get("per_page", 30)), 100)
    page = max(int(query.get("page", 1)), 1)
    return [rest_issue(f, i, p) for _, _, i, p in out[(page - 1) * per_page:page * per_page]]


def rest(f: Forge, method: str, rest_path: list[str], query: dict, body,
         viewer: str) -> tuple[int, object] | None:
    """The answer to `/repos/O/R/issues…`, or None for a path this does not serve."""
    b = body if isinstance(body, dict) else {}
    if rest_path == ["issues"] and method == "GET":
        return 200, listed(f, query)
    if rest_path == ["issues"] and method == "POST":
        if not b.get("title"):
            raise ApiError(422, "Validation Failed: title is missing")
        return 201, rest_issue(f, create(f, b, viewer))
    if len(rest_path) < 2 or rest_path[0] != "issues" or not rest_path[1].isdigit():
        return None
    issue, pr = find(f, rest_path[1])
    item = issue if issue is not None else pr
    sub = rest_path[2:]
    if not sub and method == "GET":
        return 200, rest_issue(f, issue, pr)
    if not sub and method == "PATCH":
        if "title" in b:
            item["title"] = cut(b["title"], 1024)
        if "body" in b:
            item["body"] = cut(b["body"])
        if issue is not None and b.get("state") == "closed":
            close(f, issue, viewer, b.get("state_reason") or "completed")
        elif issue is not None and b.get("state") == "open":
            reopen(f, issue)
        elif pr is not None and b.get("state") == "closed":
            f.close_pr(pr, viewer)
        item["updated"] = time.time()
        return 200, rest_issue(f, issue, pr)
    if sub == ["labels"] and method in ("POST", "PUT"):
        names = b.get("labels")
        if not isinstance(names, list) or not names:
            raise ApiError(422, "Invalid request.\n\nNo subschema in \"anyOf\" matched.")
        if method == "PUT":
            item["labels"] = []
        for name in names:
            add_label(f, item, str(name.get("name") if isinstance(name, dict) else name))
        item["updated"] = time.time()
        return 200, [label(f, x) for x in item["labels"]]
    if sub == ["labels"] and method == "GET":
        return 200, [label(f, x) for x in item.get("labels", [])]
    kind = "issues" if issue is not None else "pull"
    if sub == ["comments"] and method == "POST":
        if not b.get("body"):
            raise ApiError(422, "Validation Failed: body is missing")
        c = f.add_comment(item, b["body"], viewer) if pr is not None else \
            add_comment(f, issue, b["body"], viewer)
        return 201, rest_comment(f, item, c, kind)
    if sub == ["comments"] and method == "GET":
        return 200, [rest_comment(f, item, c, kind) for c in item["comments"]]
    return None


def add_comment(f: Forge, issue: dict, body: str, author: str) -> dict:
    c = {"id": f.new_id(), "author": cut(author, 100), "body": cut(body),
         "created": time.time()}
    issue["comments"].append(c)
    issue["updated"] = time.time()
    return c


def control(f: Forge, what: str, b: dict) -> tuple[int, object] | None:
    """`/_control/issue…`, or None for another endpoint."""
    if what == "issue":
        author = cut(b.get("author") or f.viewer, 100)
        f.set_association(author, b.get("association"))
        issue = create(f, b, author)
        return 200, {"number": issue["number"],
                     "url": f"{WEB}/{f.full}/issues/{issue['number']}"}
    if what == "issue-close":
        issue, _ = find(f, b.get("issue"))
        if issue is None:
            raise ApiError(404, "no such issue")
        close(f, issue, b.get("author", "maintainer"), b.get("reason", "completed"))
        return 200, {"ok": True}
    if what == "issue-comment":
        issue, _ = find(f, b.get("issue"))
        if issue is None:
            raise ApiError(404, "no such issue")
        f.set_association(b.get("author", "reviewer"), b.get("association"))
        c = add_comment(f, issue, b.get("body", ""), b.get("author", "reviewer"))
        return 200, {"id": c["id"]}
    return None


def state_json(f: Forge) -> list[dict]:
    return [{"number": i["number"], "title": i["title"], "state": i["state"],
             "state_reason": i["state_reason"], "author": i["author"],
             "association": f.association(i["author"]), "labels": i["labels"],
             "assignees": i["assignees"], "closed_by": i["closed_by"],
             "closed_by_pr": i.get("closed_by_pr"),
             "comments": [{"author": c["author"], "body": c["body"]} for c in i["comments"]]}
            for i in sorted(issues_of(f).values(), key=lambda i: i["number"])]
