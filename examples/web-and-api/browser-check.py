"""Drives examples/web-and-api's page in headless Chromium over the DevTools
pipe (no packages beyond the standard library). One scenario per run:

  mfa       register, log in, enable two-factor (QR code, confirming code,
            recovery codes), the mfa route refused for the password-only
            session, then log in again through the challenge step and call
            the route guarded with #[authed(mfa, fresh = "5m")].
  recovery  register, resend the verification mail, open the voided first
            link (refused, the page shows why) and the second (verified);
            forgot password, open the reset link, set a new password and
            log in with it; change the email, open the confirmation link
            (the page shows the new address) and log in with it.
  oidc      click "Sign in with <provider>", log in at the provider's
            interaction page as --account, land back on the page signed in
            (/me answers, /oauth/identities holds --email).

The recovery scenario needs the mails' links: for each it prints a line
`mail-link <address>` and reads the link of the next mail to that address
(not yet handed out) from its standard input, so whoever reads the mail
(a test's SMTP server, a person watching the server's log) answers.

Needs a `chromium` binary (Debian: `apt-get install chromium`). Start the
server, then point this at it:

    CRUDAUTH_ADDR=127.0.0.1:3917 CRUDAUTH_INSECURE_COOKIES=1 \
    CRUDAUTH_MFA_KEY=$(head -c 32 /dev/urandom | base64) cargo run -p example-web-and-api &
    python3 examples/web-and-api/browser-check.py http://127.0.0.1:3917 [--scenario mfa] [--shots DIR]
"""
import argparse, base64, hmac, hashlib, json, os, struct, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser(description="the example page in headless Chromium")
parser.add_argument("base", help="the example server, http://HOST:PORT")
parser.add_argument("--scenario", choices=["mfa", "recovery", "oidc"], default="mfa")
parser.add_argument("--shots", help="a directory for screenshots")
parser.add_argument("--provider", default="oidc", help="oidc: the provider's name")
parser.add_argument("--account", help="oidc: the account to log in as at the provider")
parser.add_argument("--email", help="oidc: that account's email")
ARGS = parser.parse_args()
BASE = ARGS.base
SHOTS = ARGS.shots


def totp(secret, steps=0):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + steps
    digest = hmac.new(key, struct.pack(">q", counter), hashlib.sha1).digest()
    offset = digest[19] & 15
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()


def fds():
    # Chromium reads commands on fd 3 and answers on fd 4. Dup first: a
    # pipe may already sit on 3 or 4, and dup2 onto itself would keep it
    # close-on-exec.
    inbox, outbox = os.dup(to_chrome_r), os.dup(from_chrome_w)
    os.dup2(inbox, 3)
    os.dup2(outbox, 4)


chrome = subprocess.Popen(
    ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--window-size=800,1800",
     "--user-data-dir=" + tempfile.mkdtemp(prefix="crudauth-browser-"), "about:blank"],
    preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
reader = os.fdopen(from_chrome_r, "rb")
buffer = b""
next_id = 0


def call(method, session=None, **params):
    global buffer, next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params}
    if session:
        message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    while True:
        while b"\0" not in buffer:
            chunk = os.read(from_chrome_r, 65536)
            if not chunk:
                raise SystemExit("chromium closed the pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                raise SystemExit(f"{method}: {reply['error']}")
            return reply["result"]


target = call("Target.createTarget", url="about:blank")["targetId"]
session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]


def js(expression):
    result = call("Runtime.evaluate", session, expression=expression, awaitPromise=True,
                  returnByValue=True)
    if "exceptionDetails" in result:
        raise SystemExit(f"page error: {result['exceptionDetails']}")
    return result["result"].get("value")


def out_after(action, expect, timeout=10):
    js("document.getElementById('out').textContent = ''")
    js(action)
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = js("document.getElementById('out').textContent")
        if text:
            assert expect in text, f"expected {expect!r} in:\n{text}"
            return text
        time.sleep(0.1)
    raise SystemExit(f"no answer for {action}")


def submit(form, **fields):
    sets = "".join(
        f"f.elements[{json.dumps(k)}].value = {json.dumps(v)};" for k, v in fields.items())
    return f"(() => {{ const f = document.getElementById({json.dumps(form)}); {sets} f.requestSubmit(); }})()"


def shot(name):
    if SHOTS:
        data = call("Page.captureScreenshot", session)["data"]
        with open(os.path.join(SHOTS, name), "wb") as f:
            f.write(base64.b64decode(data))


def body(text):
    return json.loads(text.split("\n", 1)[1])


def shown(id):
    return js(f"getComputedStyle(document.getElementById('{id}')).display !== 'none'")


def wait_for(expression, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = js(expression)
        except SystemExit:
            # The page navigated away while being asked; ask the next one.
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}; at {js('location.href')}")


def open_page(url):
    call("Page.navigate", session, url=url)
    wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", url)


def mail_link(address):
    print("mail-link", address, flush=True)
    link = sys.stdin.readline().strip()
    if not link:
        raise SystemExit(f"no mail link for {address}")
    return link


def link_result(url, expect):
    """Opens a mail's link and waits for the page's verdict on it."""
    open_page(url)
    text = wait_for("document.getElementById('link-result').textContent", "the link's result")
    assert expect in text, f"expected {expect!r}, the page says {text!r}"
    assert "token=" not in js("location.href"), "the token is left in the address bar"
    return text


def mfa():
    open_page(BASE + "/")
    email, password = "ada@example.com", "correct horse battery"
    out_after(submit("register", email=email, password=password), "POST /register -> 201")
    out_after(submit("login", username=email, password=password), "POST /login -> 200")
    text = out_after(submit("mfa-setup", password=password), "POST /mfa/totp/setup -> 200")
    secret = body(text)["secret"]
    assert js("!!document.querySelector('#qr svg')"), "the QR code is shown"
    assert not shown("challenge"), "no challenge step before a challenge"
    assert shown("mfa-confirm")
    shot("1-qr.png")
    text = out_after(submit("mfa-confirm", code=totp(secret, -1)), "-> 200")
    codes = body(text)["recovery_codes"]
    assert len(codes) == 10, codes
    assert not shown("mfa-confirm") and not js("!!document.querySelector('#qr svg')")
    shot("2-recovery-codes.png")
    out_after("document.getElementById('rotate').click()", "-> 403")
    print("password-only session on /api/admin/rotate: 403 mfa_required")
    out_after("document.getElementById('logout').click()", "POST /logout -> 200")
    text = out_after(submit("login", username=email, password=password), "POST /login -> 200")
    assert body(text)["mfa_required"] is True
    assert shown("challenge"), "the challenge step is shown"
    shot("3-challenge.png")
    out_after(submit("challenge", code=totp(secret, 0)), "POST /mfa/verify -> 200")
    assert not shown("challenge")
    text = out_after("document.getElementById('rotate').click()", "POST /api/admin/rotate -> 200")
    print("second-factor session on /api/admin/rotate:", text.split("\n")[1])
    out_after(submit("sudo", password=password), "POST /sudo -> 200")
    shot("4-done.png")


def recovery():
    email, password = "lin@example.com", "correct horse battery"
    open_page(BASE + "/")
    # With a mail sender, registration answers alike for new and taken emails.
    out_after(submit("register", email=email, password=password), "POST /register -> 202")
    first = mail_link(email)
    assert "/verify-email?token=" in first, first
    out_after(submit("resend-verification", email=email), "POST /email/verify-request -> 202")
    second = mail_link(email)
    assert second != first
    text = link_result(first, "This link did not work")
    print("voided verification link:", text)
    shot("recovery-1-voided.png")
    link_result(second, "Your email address is verified.")
    wait_for("document.getElementById('out').textContent.includes('\"email_verified\":true')",
             "the confirm route's answer")
    shot("recovery-2-verified.png")
    print("verification link: verified")

    open_page(BASE + "/")
    out_after(submit("forgot", email=email), "POST /password/reset-request -> 202")
    reset = mail_link(email)
    assert "/reset-password?token=" in reset, reset
    open_page(reset)
    assert shown("reset-confirm"), "the reset link asks for the new password"
    assert js("document.getElementById('link-result').textContent") == ""
    new_password = "a brand new passphrase"
    out_after(submit("reset-confirm", new_password=new_password), "POST /password/reset-confirm -> 200")
    assert "log in with it" in js("document.getElementById('link-result').textContent")
    assert not shown("reset-confirm")
    shot("recovery-3-reset.png")
    out_after(submit("login", username=email, password=password), "POST /login -> 401")
    out_after(submit("login", username=email, password=new_password), "POST /login -> 200")
    print("reset link: the new password signs in, the old one does not")

    new_email = "lin.new@example.com"
    out_after(submit("change-email", new_email=new_email, password=new_password),
              "POST /email/change-request -> 202")
    confirm = mail_link(new_email)
    assert "/confirm-email?token=" in confirm, confirm
    link_result(confirm, f"Your email address is now {new_email}.")
    shot("recovery-4-changed.png")
    out_after("document.getElementById('logout').click()", "POST /logout -> 200")
    out_after(submit("login", username=new_email, password=new_password), "POST /login -> 200")
    out_after("document.getElementById('me').click()", "GET /me -> 200")
    print("change link: the page shows the new email, which signs in")


def oidc():
    assert ARGS.account and ARGS.email, "--account and --email are required for oidc"
    # A callback this browser never started comes back to the page as an error.
    open_page(f"{BASE}/oauth/{ARGS.provider}/callback?code=forged&state=forged")
    wait_for(f"location.href.startsWith({json.dumps(BASE)}) && document.getElementById('out')"
             ".textContent === 'sign-in failed: invalid_state'", "the refused callback shown")
    open_page(BASE + "/")
    out_after("document.getElementById('me').click()", "GET /me -> 401")
    button = f"oidc-{ARGS.provider}"
    label = js(f"document.getElementById({json.dumps(button)}).textContent")
    assert label == f"Sign in with {ARGS.provider}", label
    shot("oidc-1-page.png")
    js(f"document.getElementById({json.dumps(button)}).click()")
    # The provider's interaction page: its own login form.
    wait_for("!!document.getElementById('login') && !!document.getElementById('sign-in')",
             "the provider's login form", timeout=20)
    assert not js("location.href").startswith(BASE), "the button leads to the provider"
    shot("oidc-2-provider.png")
    js(f"document.getElementById('login').value = {json.dumps(ARGS.account)}")
    # The test provider pre-grants consent to its first-party client, so the
    # login form's submission leads straight back to the app's callback.
    js("document.getElementById('sign-in').click()")
    wait_for(f"location.href.startsWith({json.dumps(BASE)}) && document.readyState === 'complete' "
             "&& !!document.getElementById('me')", "the app's page", timeout=20)
    landed = js("location.href")
    assert landed.rstrip("/") == BASE, f"landed on {landed}"
    shot("oidc-3-back.png")
    out_after("document.getElementById('me').click()", "GET /me -> 200")
    text = out_after("document.getElementById('identities').click()", "GET /oauth/identities -> 200")
    identities = body(text)
    assert [i["email"] for i in identities] == [ARGS.email], identities
    assert identities[0]["provider"] == ARGS.provider, identities
    print("signed in with", ARGS.provider, "as", ARGS.email)


call("Page.enable", session)
try:
    {"mfa": mfa, "recovery": recovery, "oidc": oidc}[ARGS.scenario]()
finally:
    chrome.terminate()
print("browser flow OK:", ARGS.scenario)
