<?php
// An external application signing a user into the help desk, as the ActiveCampaign document
// shows it: call api.php with the admin's api_user / md5 password and the visitor's details,
// check $result['result_code'] == 1, then send the browser to main.php?_ssot=TOKEN (external
// server) -- or, same server, use the cookie the API call set.
// Usage: php helpdesk_client.php BASE RESOLVE OUTPUT ACTION SSO_ADDR [METHOD]
[$_, $base, $resolve, $output, $action, $ssoAddr] = $argv;
$method = $argv[6] ?? 'GET';

$params = [
    'api_user' => 'admin',
    'api_pass_h' => md5('test123'),
    'api_output' => $output,
    'api_action' => $action,
    'sso_addr' => $ssoAddr,
    'sso_user' => 'joe',
    'sso_pass' => md5('acjoe123'),
    'sso_duration' => '30',
];

$jar = tempnam(sys_get_temp_dir(), 'jar');
require __DIR__ . '/browser.php';

if ($method === 'POST') {
    [$apiStatus, , $raw] = browser("$base/admin/api.php", $jar, $resolve, $params);
} else {
    [$apiStatus, , $raw] = browser("$base/api.php?" . http_build_query($params), $jar, $resolve);
}
switch ($output) {
    case 'serialize':
        $result = unserialize($raw, ['allowed_classes' => false]);
        break;
    case 'xml':
        $xml = simplexml_load_string($raw);
        $result = [];
        foreach ($xml->children() as $name => $node) {
            $result[$name] = (string) $node;
        }
        break;
    default:
        $result = json_decode($raw, true);
}

$out = ['api_status' => $apiStatus, 'result' => $result];
if ((int) ($result['result_code'] ?? 0) === 1) {
    if (isset($result['token'])) {
        [$s, $loc] = browser("$base/admin/main.php?_ssot=" . $result['token'], $jar, $resolve);
        $out['redeem_status'] = $s;
        $out['redeem_location'] = $loc;
    }
    [$s, , $body] = browser("$base/admin/main.php", $jar, $resolve);
    $out['page_status'] = $s;
    $out['page_body'] = $body;
}
unlink($jar);
echo json_encode($out);
