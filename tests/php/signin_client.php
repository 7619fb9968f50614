<?php
// A partner site sending a browser through signed-link SSO, written the way the Virtual Agent
// Connect document shows it:
//     $timestamp = time();
//     $token = md5($email . $timestamp . $vendorpass);
// then a GET (or a form POST) to signin.php. A cookie jar plays the browser: after the
// redirect it opens the tenant home with the session cookie it was given.
// Usage: php signin_client.php BASE RESOLVE MODE IDENTIFIER VENDORID VENDORPASS
//   MODE: email | clientID | post-email | post-clientID
[$_, $base, $resolve, $mode, $identifier, $vendorid, $vendorpass] = $argv;

$timestamp = time();
$token = md5($identifier . $timestamp . $vendorpass);
$field = str_ends_with($mode, 'email') ? 'email' : 'clientID';
$params = http_build_query([
    $field => $identifier,
    'vendorid' => $vendorid,
    'timestamp' => $timestamp,
    'token' => $token,
]);

$jar = tempnam(sys_get_temp_dir(), 'jar');
require __DIR__ . '/browser.php';

if (str_starts_with($mode, 'post-')) {
    [$status, $location] = browser("$base/signin.php", $jar, $resolve, $params);
} else {
    [$status, $location] = browser("$base/signin.php?$params", $jar, $resolve);
}
[$homeStatus, , $homeBody] = browser("$base/", $jar, $resolve);
unlink($jar);
echo json_encode([
    'status' => $status,
    'location' => $location,
    'home_status' => $homeStatus,
    'home_body' => $homeBody,
]);
