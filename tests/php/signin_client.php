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
function browser($url, $jar, $resolve, $post = null) {
    $ch = curl_init($url);
    curl_setopt_array($ch, [
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_HEADER => true,
        CURLOPT_FOLLOWLOCATION => false,
        CURLOPT_COOKIEJAR => $jar,
        CURLOPT_COOKIEFILE => $jar,
        CURLOPT_RESOLVE => explode(',', $resolve),
    ]);
    if ($post !== null) {
        curl_setopt($ch, CURLOPT_POST, true);
        curl_setopt($ch, CURLOPT_POSTFIELDS, $post);
    }
    $response = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    $headerSize = curl_getinfo($ch, CURLINFO_HEADER_SIZE);
    $location = curl_getinfo($ch, CURLINFO_REDIRECT_URL);
    curl_close($ch);
    return [$status, $location, substr($response, $headerSize)];
}

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
