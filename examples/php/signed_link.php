<?php
// Signed-link SSO as the seed's vendor snippet does it: md5($clientID . $timestamp . $password).
// Usage: php signed_link.php [BASE_URL]
require __DIR__ . '/common.php';
$base = sso_base($argv);
[$vendor, $client, $password] = ['1001', '1234', 'vendorpass'];   // the demo vendor (DEMO.md)

$timestamp = time();
$token = md5($client . $timestamp . $password);
$link = "$base/signin.php?" . http_build_query(
    ['clientID' => $client, 'vendorid' => $vendor, 'timestamp' => $timestamp, 'token' => $token]);
$r = sso_request($link);
if ($r['status'] !== 302 || str_contains($r['location'], 'errorID=') || !$r['cookie']) {
    sso_fail("signed-link: refused (HTTP {$r['status']}, to {$r['location']})");
}
echo "signed-link: signed in (HTTP {$r['status']}, session cookie set, to {$r['location']})\n";
