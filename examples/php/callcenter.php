<?php
// Call-center SSO: POST /sso/0 with the Platform-Key, then the agent's browser opens `url`.
// Usage: php callcenter.php [BASE_URL]
require __DIR__ . '/common.php';
$base = sso_base($argv);
$r = sso_request("$base/sso/0", null, ['Platform-Key: demo-platform-key'],   // DEMO.md's key
    json_encode(['username' => 'agent1', 'fullname' => 'Agent One', 'department_id' => 1]));
$answer = json_decode($r['body'], true);
if (($answer['success'] ?? 0) !== 1) {
    sso_fail("callcenter: /sso/0 refused: HTTP {$r['status']} " . ($answer['descriptor'] ?? '') . ' ' . ($answer['message'] ?? $r['body']));
}
echo "callcenter: /sso/0 created a login URL\n";
$opened = sso_request($answer['url']);
if ($opened['status'] !== 302 || !$opened['cookie']) {
    sso_fail("callcenter: login URL refused (HTTP {$opened['status']})");
}
echo "callcenter: login URL signed the agent in (HTTP {$opened['status']})\n";
