<?php
// The browser opens /admin/main.php?_ssot=TOKEN: one use, from the address it was issued for.
require dirname(__DIR__) . '/common.php';
$claims = redeem_token($_GET['_ssot'] ?? '');
if ($claims === null || $claims['addr'] !== $_SERVER['REMOTE_ADDR']) {
    redirect('/admin/login?error=sso'); return;
}
start_session(['user' => $claims['user']]);
redirect('/admin/main.php');
