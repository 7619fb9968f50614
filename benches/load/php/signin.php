<?php
// Signed link (seed 002/003): token = md5(clientID . timestamp . vendor password), 10 hours.
require __DIR__ . '/common.php';
$id = $_GET['clientID'] ?? ($_GET['email'] ?? null);
$vendor = $_GET['vendorid'] ?? null;
$ts = $_GET['timestamp'] ?? null;
$token = $_GET['token'] ?? null;
if ($id === null || $vendor === null || $ts === null || $token === null) {
    redirect('/login?errorID=1'); return;
}
if (!isset(VENDORS[$vendor]) || !hash_equals(md5($id . $ts . VENDORS[$vendor]), strtolower($token))) {
    redirect('/login?errorID=0'); return;
}
if (!ctype_digit($ts) || time() - (int)$ts >= MAX_AGE || (int)$ts > time() + 300) {
    redirect('/login?errorID=3'); return;
}
if (!isset(CLIENTS[$id])) { redirect('/login?errorID=2'); return; }
start_session(['client' => $id, 'vendor' => $vendor]);
redirect('/');
