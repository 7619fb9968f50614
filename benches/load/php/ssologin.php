<?php
// GET /sso/login?token=: one use; the agent's session starts.
require __DIR__ . '/common.php';
$claims = redeem_token($_GET['token'] ?? '');
if ($claims === null) { http_response_code(401); echo 'This sign-in link is not valid.'; return; }
start_session($claims);
redirect('/');
