// Signed-link SSO as a vendor does it: md5(clientID . timestamp . password), then the browser
// goes to /signin.php. Usage: node signed_link.js [BASE_URL]
'use strict';
const crypto = require('node:crypto');
const { baseUrl, request, fail } = require('./sso_http');

const [vendor, client, password] = ['1001', '1234', 'vendorpass']; // the demo vendor (DEMO.md)

(async () => {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = crypto.createHash('md5').update(client + timestamp + password).digest('hex');
  const query = new URLSearchParams({ clientID: client, vendorid: vendor, timestamp, token });
  const r = await request(`${baseUrl()}/signin.php?${query}`);
  if (r.status !== 302 || r.location.includes('errorID=') || !r.cookie) {
    fail(`signed-link: refused (HTTP ${r.status}, to ${r.location})`);
  }
  console.log(`signed-link: signed in (HTTP ${r.status}, session cookie set, to ${r.location})`);
})().catch((e) => fail(e.message));
