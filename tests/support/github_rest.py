"""The REST shapes of github_api.py (GitHub's JSON for PRs, comments, checks, Actions).

Python 3.11 standard library only.
"""

from __future__ import annotations

import io
import time
import zipfile

from github_forge import API, WEB, Forge, now_iso

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
            "author_association": f.association(p["author"]),
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
            "user": rest_user(c["author"]), "author_association": f.association(c["author"]),
            "path": c["path"], "line": c["line"],
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
