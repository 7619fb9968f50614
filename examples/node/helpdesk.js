// API-issued token SSO: api.php singlesignon (JSON output), then the user's browser opens
// /admin/main.php?_ssot=TOKEN. Usage: node helpdesk.js [BASE_URL]
'use strict';
const crypto = require('node:crypto');
const { baseUrl, request, fail } = require('./sso_http');

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');

(async () => {
  const base = baseUrl();
  const r = await request(`${base}/api.php`, { form: {
    api_user: 'admin', api_pass_h: md5('test123'), // the demo account (DEMO.md)
    api_output: 'json', api_action: 'singlesignon',
    sso_addr: '127.0.0.1', sso_user: 'joe', sso_pass: md5('acjoe123'), sso_duration: '30',
  } });
  const answer = JSON.parse(r.body);
  if (answer.result_code !== 1) fail(`helpdesk: api.php refused: ${answer.result_message}`);
  console.log('helpdesk: api.php issued a token');
  const opened = await request(`${base}/admin/main.php?_ssot=${encodeURIComponent(answer.token)}`);
  if (opened.status !== 302 || opened.location !== '/admin/main.php' || !opened.cookie) {
    fail(`helpdesk: _ssot link refused (HTTP ${opened.status}, to ${opened.location})`);
  }
  console.log(`helpdesk: _ssot link signed in (HTTP ${opened.status}, to ${opened.location})`);
})().catch((e) => fail(e.message));
