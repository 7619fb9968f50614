<?php
// API-issued token (seed 001): api.php?api_action=singlesignon answers a one-time token.
require __DIR__ . '/common.php';
$p = $_GET + $_POST;
header('Content-Type: application/json');
$fail = function (string $m) { echo json_encode(['result_code' => 0, 'result_message' => $m, 'result_output' => 'json']); };
if (($p['api_user'] ?? '') !== 'admin' || !hash_equals(md5('test123'), $p['api_pass_h'] ?? '')) {
    $fail('API credentials are invalid.'); return;
}
if (($p['api_action'] ?? '') !== 'singlesignon') { $fail('Unknown api_action.'); return; }
$user = $p['sso_user'] ?? '';
// Bench users joe, joe0 … joe127 share joe's password.
if (!preg_match('/^joe\d*$/', $user) || !hash_equals(md5('acjoe123'), $p['sso_pass'] ?? '')) {
    $fail('Login failed.'); return;
}
$minutes = (int)($p['sso_duration'] ?? 0);
if ($minutes < 1 || $minutes > 1440) { $fail('Invalid sso_duration.'); return; }
$token = mint_token(['user' => $user, 'addr' => $p['sso_addr'] ?? ''], $minutes * 60);
echo json_encode(['token' => $token, 'result_code' => 1, 'result_message' => 'User Found.', 'result_output' => 'json']);
