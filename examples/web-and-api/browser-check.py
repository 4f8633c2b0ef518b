"""Drives examples/web-and-api's page in headless Chromium over the DevTools
pipe (no packages beyond the standard library): register, log in, enable
two-factor (QR code, confirming code, recovery codes), the mfa route
refused for the password-only session, then log in again through the
challenge step and call the route guarded with #[authed(mfa, fresh = "5m")].

Needs a `chromium` binary (Debian: `apt-get install chromium`). Start the
server with a second-factor key, then point this at it:

    CRUDAUTH_ADDR=127.0.0.1:3917 CRUDAUTH_INSECURE_COOKIES=1 \
    CRUDAUTH_MFA_KEY=$(head -c 32 /dev/urandom | base64) cargo run -p example-web-and-api &
    python3 examples/web-and-api/browser-check.py http://127.0.0.1:3917 [screenshot-dir]
"""
import base64, hmac, hashlib, json, os, struct, subprocess, sys, tempfile, time

BASE = sys.argv[1]
SHOTS = sys.argv[2] if len(sys.argv) > 2 else None


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


call("Page.enable", session)
call("Page.navigate", session, url=BASE + "/")
time.sleep(1)
email, password = "ada@example.com", "correct horse battery"
out_after(submit("register", email=email, password=password), "POST /register -> 201")
out_after(submit("login", username=email, password=password), "POST /login -> 200")
text = out_after(submit("mfa-setup", password=password), "POST /mfa/totp/setup -> 200")
secret = body(text)["secret"]
assert js("!!document.querySelector('#qr svg')"), "the QR code is shown"
def shown(id):
    return js(f"getComputedStyle(document.getElementById('{id}')).display !== 'none'")


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
print("browser flow OK")
chrome.terminate()
