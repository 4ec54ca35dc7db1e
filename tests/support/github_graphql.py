"""The GraphQL object graph of github_api.py: the Forge's state as GitHub's schema.

Objects are dicts with a `__typename`; a field is a value or a callable taking the field's
arguments (see gql.py). Rebuilt per request. Python 3.11 standard library only.
"""

from __future__ import annotations

import time

from github_forge import WEB, ApiError, Forge, cut, now_iso

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
                    "authorAssociation": f.association(r["author"]), "body": r["body"],
                    "state": r["state"],
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
                    "url": f"{url}#discussion_r{c['id']}",
                    "authorAssociation": f.association(c["author"]),
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
                    "authorAssociation": f.association(c["author"]), "body": c["body"],
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
            "author": actor(p["author"]), "authorAssociation": f.association(p["author"]),
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
