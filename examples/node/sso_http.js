// What every Node example shares: the gateway's origin, and one request (no packages) that
// reports the status, the Location and whether a cookie was set. Redirects are not followed:
// a partner hands them to the browser.
'use strict';
const http = require('node:http');
const https = require('node:https');

function baseUrl() {
  return (process.argv[2] || process.env.SSO_BASE_URL || 'http://demoaws.localhost:8080').replace(/\/+$/, '');
}

function request(url, { form, headers = {}, json } = {}) {
  const u = new URL(url);
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (json) {
    body = JSON.stringify(json);
    headers['Content-Type'] = 'application/json';
  }
  const options = { method: body ? 'POST' : 'GET', headers, timeout: 30000 };
  // RFC 6761: *.localhost is loopback (browsers do this; many resolvers do not).
  if (u.hostname.endsWith('.localhost')) {
    options.lookup = (_host, opts, cb) =>
      opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
  }
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({
        status: res.statusCode, location: res.headers.location || '',
        cookie: Boolean(res.headers['set-cookie']), body: text,
      }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new Error(`request to ${url} failed: ${e.message}`)));
    req.end(body);
  });
}

function fail(what) {
  console.error(what);
  process.exit(1);
}

module.exports = { baseUrl, request, fail };
