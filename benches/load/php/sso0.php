<?php
// Call center (seed 000): POST /sso/0 with Platform-Key and JSON answers a one-time URL.
require __DIR__ . '/common.php';
header('Content-Type: application/json');
$answer = function (int $code, string $status, string $descriptor, string $url = '') {
    http_response_code($code);
    echo json_encode(['success' => $code === 200 ? 1 : 0, 'code' => $code, 'url' => $url,
        'message' => $descriptor, 'status' => $status, 'descriptor' => $descriptor], JSON_UNESCAPED_SLASHES);
};
$key = $_SERVER['HTTP_PLATFORM_KEY'] ?? '';
if (!preg_match('/^(demo|bench-\d+)-platform-key$/', $key)) { $answer(401, 'FAILURE', 'INVALID_PLATFORM_KEY'); return; }
if ($_SERVER['REMOTE_ADDR'] !== '127.0.0.1') { $answer(403, 'FAILURE', 'IP_NOT_WHITELISTED'); return; }
$body = json_decode(file_get_contents('php://input'), true);
if (!is_array($body)) { $answer(400, 'FAILURE', 'INVALID_REQUEST'); return; }
foreach (['username', 'fullname', 'department_id'] as $f) {
    if (!isset($body[$f]) || $body[$f] === '') { $answer(400, 'FAILURE', 'MISSING_FIELD'); return; }
}
if (!in_array((string)$body['department_id'], ['1', '2'], true)) { $answer(404, 'FAILURE', 'DEPARTMENT_NOT_FOUND'); return; }
$token = mint_token(['agent' => $body['username'], 'fullname' => $body['fullname'],
    'department' => $body['department_id'], 'campaigns' => $body['campaign_id'] ?? null], 300);
$answer(200, 'SUCCESS', 'SSO_TOKEN_CREATED', 'http://' . $_SERVER['HTTP_HOST'] . "/sso/login?token=$token");
