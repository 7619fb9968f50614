# Writes docs/openapi.json (the partner API's OpenAPI 3.1 document). Edit here, run
# `python3 scripts/openapi-gen.py`, commit both; tests/e2e/openapi.rs holds the result against the code.
import json
html = {"text/html": {"schema": {"type": "string"}}}
def page(desc): return {"description": desc, "content": html}
loc = {"Location": {"description": "Where the browser goes.", "schema": {"type": "string"}}}
cookie = {"Set-Cookie": {"description": "The session cookie, on a sign-in.", "schema": {"type": "string"}}}
def redirect(desc, with_cookie=False):
    h = dict(loc)
    if with_cookie: h.update(cookie)
    return {"description": desc, "headers": h}
common_pages = {"404": page("The host names no tenant (or the tenant is disabled): the plain 404 page."),
                "503": page("The store is temporarily unavailable: the 503 page; try again.")}
def q(name, desc, schema=None, required=False):
    return {"name": name, "in": "query", "required": required, "description": desc,
            "schema": schema or {"type": "string"}}

signin_params = [
    q("clientID", "The client's id at the vendor (one of clientID or email)."),
    q("email", "The client's email (one of clientID or email)."),
    q("vendorid", "The vendor's id, as registered with the tenant."),
    q("timestamp", "Unix seconds when the link was made (PHP's time()); the link expires 10 hours later on Central Standard Time."),
    q("token", "md5(identifier . timestamp . password) as 32 lower-case hex digits (or HMAC-SHA256 for vendors that use it)."),
]
signin_form = {"type": "object", "properties": {p["name"]: {"type": "string"} for p in signin_params}}
signin_responses = {
    "302": redirect("Signed in: to the tenant's home page (`/`) with a session cookie. Refused: to the vendor's registered failure URL, or the tenant's `/login`, with `errorID` (see the ErrorId schema) in the query.", True),
    "400": page("Only for a vendor in test mode (`sso test-mode`): the refused link's explanation, which check failed and why."),
    **common_pages,
}
signin_desc = ("Signed-link sign-in (PROTOCOLS.md §1). Checks, in order: parameters (errorID 1), vendor and token (0), "
               "timestamp (3), replay (3), client lookup (2), duplicate email (4). HEAD answers 200 and never consumes a link.")

hd_params = [
    q("api_action", "`singlesignon` (a one-time `_ssot` token) or `singlesignon_sameserver` (a session `hash`).", {"type": "string", "enum": ["singlesignon", "singlesignon_sameserver"]}),
    q("api_output", "The answer's format.", {"type": "string", "enum": ["serialize", "xml", "json"]}),
    q("api_user", "The API admin (with api_pass_h or api_pass)."),
    q("api_pass_h", "md5 of the API admin's password."),
    q("api_pass", "The API admin's password (prefer api_pass_h)."),
    q("api_key", "The API admin's API key, instead of api_user and a password."),
    q("sso_addr", "The IP address of the visitor the token is for (the token is bound to it)."),
    q("sso_user", "The help-desk user to sign in."),
    q("sso_pass", "md5 of that user's password."),
    q("sso_duration", "Session minutes.", {"type": "string"}),
]
hd_form = {"type": "object", "properties": {p["name"]: {"type": "string"} for p in hd_params}}
hd_result = {"$ref": "#/components/schemas/HelpdeskResult"}
hd_responses = {"200": {"description": "Always HTTP 200; `result_code` 1 is success, 0 a refusal with a fixed `result_message` (including \"Temporarily unavailable; try again.\"). The format is `api_output`'s (JSON when it is missing or unknown).",
    "content": {"application/json": {"schema": hd_result},
                "text/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string", "description": "PHP serialize() of the same array."}}}}}
def hd_op(op_id, method):
    o = {"operationId": op_id, "tags": ["help desk"], "summary": "Issue a help-desk single sign-on token (ActiveCampaign style).",
         "parameters": hd_params, "responses": hd_responses}
    if method == "post":
        o["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": hd_form}}}
    return o

descriptors = ["SSO_TOKEN_CREATED", "UNKNOWN_PLATFORM", "INVALID_PLATFORM_KEY", "IP_NOT_WHITELISTED", "RATE_LIMITED",
               "METHOD_NOT_ALLOWED", "INVALID_REQUEST", "MISSING_FIELD", "INVALID_FIELD", "DEPARTMENT_NOT_FOUND",
               "CAMPAIGN_NOT_FOUND", "UNAVAILABLE"]
cc_codes = {"200": "Token created: `url` is the one-time login URL (valid 60 s).",
            "400": "INVALID_REQUEST (not a JSON object sent as application/json) or MISSING_FIELD.",
            "401": "INVALID_PLATFORM_KEY: the Platform-Key is missing, unknown or disabled.",
            "403": "IP_NOT_WHITELISTED: the source address is not on the key's allow-list.",
            "404": "UNKNOWN_PLATFORM, DEPARTMENT_NOT_FOUND or CAMPAIGN_NOT_FOUND.",
            "405": "METHOD_NOT_ALLOWED: only POST creates a token.",
            "422": "INVALID_FIELD: a field has the wrong type or form.",
            "429": "RATE_LIMITED: over the key's rate limit.",
            "503": "UNAVAILABLE: the store is temporarily unavailable; try again."}
cc_answer = {"$ref": "#/components/schemas/CallCenterAnswer"}
cc_responses = {c: {"description": d, "content": {"application/json": {"schema": cc_answer}}} for c, d in cc_codes.items()}

spec = {
 "openapi": "3.1.0",
 "info": {"title": "sso-gateway partner API", "version": "1.0.0",
          "description": "The partner-facing HTTP surface of the SSO gateway: signed links, the help-desk API and its `_ssot` links, the call-center API, its one-time login URLs and the agent portal's pop URL. Tenants are hosts `<tenant>.<base-domain>`; the portal is `my.<base-domain>`. The behaviour contract is PROTOCOLS.md; this file is checked against the router by `tests/e2e/openapi.rs`."},
 "servers": [{"url": "http://demoaws.localhost:8080", "description": "`sso serve --demo`, tenant demoaws"},
             {"url": "https://{tenant}.{domain}", "variables": {"tenant": {"default": "demoaws"}, "domain": {"default": "sso.example.com"}}}],
 "paths": {
  "/signin.php": {
    "get": {"operationId": "signinGet", "tags": ["signed link"], "summary": "Sign a client in with a signed link.", "description": signin_desc,
            "parameters": signin_params, "responses": signin_responses},
    "post": {"operationId": "signinPost", "tags": ["signed link"], "summary": "Sign a client in with a signed link sent as a form.", "description": signin_desc + " A POST body must be application/x-www-form-urlencoded (anything else is errorID 1).",
             "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": signin_form}}}, "responses": signin_responses}},
  "/logout.php": {
    "get": {"operationId": "logoutGet", "tags": ["signed link"], "summary": "Sign the client out.", "description": "Ends the signed-link session and redirects to the vendor's registered logout URL (or the tenant's `/login`).",
            "parameters": [q("vendorid", "The vendor whose registered logout URL to go to.")],
            "responses": {"302": redirect("To the registered logout URL or `/login`, with the session cookie cleared."), **common_pages}},
    "post": {"operationId": "logoutPost", "tags": ["signed link"], "summary": "Sign the client out (form).",
             "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"vendorid": {"type": "string"}}}}}},
             "responses": {"302": redirect("To the registered logout URL or `/login`, with the session cookie cleared."), **common_pages}}},
  "/api.php": {"get": hd_op("helpdeskApiGet", "get"), "post": hd_op("helpdeskApiPost", "post")},
  "/admin/api.php": {"get": hd_op("helpdeskAdminApiGet", "get"), "post": hd_op("helpdeskAdminApiPost", "post")},
  "/admin/main.php": {
    "get": {"operationId": "helpdeskMain", "tags": ["help desk"], "summary": "Redeem an `_ssot` token (or show the signed-in page).",
            "description": "With `_ssot`: one conditional write turns the token into a session bound to `sso_addr`; redirected to `/admin/main.php` with the cookie. A bad, used, expired or foreign-address token goes to `/admin/login?error=sso`. Without `_ssot`: the signed-in page, or a redirect to `/admin/login`. HEAD never consumes a token.",
            "parameters": [q("_ssot", "The one-time token from `api.php` singlesignon.")],
            "responses": {"200": page("The signed-in help-desk page."),
                          "302": redirect("Redeemed: to `/admin/main.php` with a session cookie. Refused: to `/admin/login?error=sso`. No session: to `/admin/login`.", True),
                          **common_pages}},
    "post": {"operationId": "helpdeskMainPost", "tags": ["help desk"], "summary": "Redeem an `_ssot` token sent as a form (what the scanner-safe page posts).",
             "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"_ssot": {"type": "string"}}}}}},
             "responses": {"302": redirect("Redeemed: to `/admin/main.php` with a session cookie. Refused: to `/admin/login?error=sso`.", True),
                           **common_pages}}},
  "/sso/0": {
    "post": {"operationId": "callCenterToken", "tags": ["call center"], "summary": "Create a one-time login URL for an agent (sticky.io style).",
             "description": "Checks, in order: tenant, Platform-Key, source IP allow-list, rate limit, method, body, fields, department, campaigns. The HTTP status always equals the body's `code`.",
             "parameters": [{"name": "Platform-Key", "in": "header", "required": True, "description": "The tenant's Platform-Key.", "schema": {"type": "string"}}],
             "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallCenterRequest"}}}},
             "responses": cc_responses}},
  "/sso/login": {
    "get": {"operationId": "callCenterLogin", "tags": ["call center"], "summary": "Open the one-time login URL from `/sso/0`.",
            "description": "One conditional write turns the token into the agent's session. HEAD never consumes it.",
            "parameters": [q("token", "The token in the `url` `/sso/0` returned.")],
            "responses": {"302": redirect("Signed in: to the tenant's home with a session cookie.", True),
                          "200": page("Scanner-safe tenants only: a page that posts the token back (nothing consumed yet)."),
                          "410": page("The link is unknown, used or expired."), **common_pages}},
    "post": {"operationId": "callCenterLoginPost", "tags": ["call center"], "summary": "Consume the one-time login token (what the scanner-safe page posts).",
             "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"token": {"type": "string"}}}}}},
             "responses": {"302": redirect("Signed in: to the tenant's home with a session cookie.", True),
                           "410": page("The link is unknown, used or expired."), **common_pages}}},
  "/pop": {
    "servers": [{"url": "http://my.localhost:8080", "description": "the agent portal of `sso serve --demo`"}],
    "get": {"operationId": "portalPop", "tags": ["portal"], "summary": "Pop an agent into a linked platform from the portal.",
            "description": "A signed-in agent of the group gets a fresh one-time login URL on the platform (as `/sso/0` would issue) and is redirected to it; without a session the agent signs in first.",
            "parameters": [q("group_id", "The portal group."), q("client_subdomain", "The platform (tenant host label) to pop into.")],
            "responses": {"302": redirect("To the platform's one-time login URL, or to the portal's sign-in page first."),
                          "200": page("The portal's sign-in form."),
                          "400": page("A parameter is missing or malformed."),
                          "403": page("The agent may not pop into this platform."),
                          "404": page("No such group or platform."),
                          "405": page("Method not allowed."),
                          "422": page("The platform refused the agent's department or campaigns."),
                          "429": page("Over the platform's rate limit."),
                          "503": page("The store is temporarily unavailable.")}}},
 },
 "components": {"schemas": {
   "ErrorId": {"type": "integer", "enum": [0, 1, 2, 3, 4],
               "description": "The `errorID` of a refused signed link: 0 unauthorized (unknown vendor or wrong token), 1 missing or malformed parameters, 2 no matching client, 3 expired or already used, 4 the email matches more than one client."},
   "HelpdeskResult": {"type": "object", "required": ["result_code", "result_message"],
       "properties": {"result_code": {"type": "integer", "enum": [0, 1]}, "result_message": {"type": "string"},
                      "result_output": {"type": "string"}, "token": {"type": "string", "description": "singlesignon: the `_ssot` token."},
                      "hash": {"type": "string", "description": "singlesignon_sameserver: the session hash."}}},
   "CallCenterRequest": {"type": "object", "required": ["username", "fullname", "department_id"],
       "properties": {"username": {"type": "string"}, "fullname": {"type": "string"},
                      "department_id": {"type": ["integer", "string"]},
                      "campaign_id": {"type": ["string", "null"], "description": "Comma-separated campaign ids (default: all)."},
                      "call_center_did": {"type": ["string", "null"]}, "customer_cid": {"type": ["string", "null"]}}},
   "CallCenterAnswer": {"type": "object", "required": ["success", "code", "url", "message", "status", "descriptor"],
       "properties": {"success": {"type": "integer", "enum": [0, 1]}, "code": {"type": "integer"},
                      "url": {"type": "string"}, "message": {"type": "string"},
                      "status": {"type": "string", "enum": ["SUCCESS", "FAILURE"]},
                      "descriptor": {"type": "string", "enum": descriptors}}}
 }}
}
open(__import__('os').path.join(__import__('os').path.dirname(__file__), '..', 'docs', 'openapi.json'), 'w').write(json.dumps(spec, indent=2) + "\n")
