<?php
// A call-center partner's server asking for an agent's login URL, as the sticky.io document
// shows it (curl_init, the two headers, json_encode), then a browser (a cookie jar) opening
// the returned URL and the platform home.
// Usage: php callcenter_client.php BASE RESOLVE PLATFORM_KEY
[$_, $base, $resolve, $key] = $argv;

$username      = 'agent7';
$fullname      = 'Agent Seven';
$department_id = '2';

$headers = [
   'Content-type: application/json',
   'Platform-Key:  ' . $key,
];

$data    = [
   'username'        => $username,
   'fullname'        => $fullname,
   'department_id'   => $department_id,
   'campaign_id'     => '1,3',
   'email'           => null,
   'call_center_did' => '8005550100',
   'customer_cid'    => '2125550123',
];

$curl = curl_init();
curl_setopt_array($curl, [
      CURLOPT_URL            => "$base/sso/0",
      CURLOPT_TIMEOUT        => 30,
      CURLOPT_HTTPHEADER     => $headers,
      CURLOPT_POSTFIELDS     => json_encode($data),
      CURLOPT_RETURNTRANSFER => true,
      CURLOPT_RESOLVE        => explode(',', $resolve),
]);
$response = curl_exec($curl);
$status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
curl_close($curl);

$out = ['http_status' => $status, 'result' => json_decode($response, true)];
if (($out['result']['success'] ?? 0) == 1) {
    $jar = tempnam(sys_get_temp_dir(), 'jar');
    $browser = function ($url) use ($jar, $resolve) {
        $ch = curl_init($url);
        curl_setopt_array($ch, [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => true,
            CURLOPT_COOKIEJAR      => $jar,
            CURLOPT_COOKIEFILE     => $jar,
            CURLOPT_RESOLVE        => explode(',', $resolve),
        ]);
        $body = curl_exec($ch);
        $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        return [$status, $body];
    };
    [$out['login_status'], $out['home_body']] = $browser($out['result']['url']);
    [$out['second_status']] = $browser($out['result']['url']);
    unlink($jar);
}
echo json_encode($out);
