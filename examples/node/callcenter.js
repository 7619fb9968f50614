// Call-center SSO: POST /sso/0 with the Platform-Key, then the agent's browser opens `url`.
// Usage: node callcenter.js [BASE_URL]
'use strict';
const { baseUrl, request, fail } = require('./sso_http');

(async () => {
  const r = await request(`${baseUrl()}/sso/0`, {
    headers: { 'Platform-Key': 'demo-platform-key' }, // DEMO.md's key
    json: { username: 'agent1', fullname: 'Agent One', department_id: 1 },
  });
  const answer = JSON.parse(r.body);
  if (answer.success !== 1) fail(`callcenter: /sso/0 refused: HTTP ${r.status} ${answer.descriptor} ${answer.message}`);
  console.log('callcenter: /sso/0 created a login URL');
  const opened = await request(answer.url);
  if (opened.status !== 302 || !opened.cookie) fail(`callcenter: login URL refused (HTTP ${opened.status})`);
  console.log(`callcenter: login URL signed the agent in (HTTP ${opened.status})`);
})().catch((e) => fail(e.message));
