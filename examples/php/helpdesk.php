<?php
// API-issued token SSO: api.php singlesignon (PHP serialize output, as the seed's client
// reads it), then the user's browser opens /admin/main.php?_ssot=TOKEN.
// Usage: php helpdesk.php [BASE_URL]
require __DIR__ . '/common.php';
$base = sso_base($argv);
$r = sso_request("$base/api.php", [
    'api_user' => 'admin', 'api_pass_h' => md5('test123'),          // the demo account (DEMO.md)
    'api_output' => 'serialize', 'api_action' => 'singlesignon',
    'sso_addr' => '127.0.0.1', 'sso_user' => 'joe', 'sso_pass' => md5('acjoe123'), 'sso_duration' => 30,
]);
$answer = unserialize($r['body'], ['allowed_classes' => false]);
if (!is_array($answer) || (int) $answer['result_code'] !== 1) {
    sso_fail("helpdesk: api.php refused: " . ($answer['result_message'] ?? $r['body']));
}
echo "helpdesk: api.php issued a token\n";
$opened = sso_request("$base/admin/main.php?_ssot=" . urlencode($answer['token']));
if ($opened['status'] !== 302 || $opened['location'] !== '/admin/main.php' || !$opened['cookie']) {
    sso_fail("helpdesk: _ssot link refused (HTTP {$opened['status']}, to {$opened['location']})");
}
echo "helpdesk: _ssot link signed in (HTTP {$opened['status']}, to {$opened['location']})\n";
