<?php
// How a PHP caller reads the help-desk API's answers: unserialize() the default output and
// simplexml_load_string() the XML one. Prints both back as JSON for the test to compare.
$in = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
$unserialized = unserialize($in['serialized'], ['allowed_classes' => false]);
if ($unserialized === false) {
    fwrite(STDERR, "unserialize() refused the input\n");
    exit(1);
}
$xml = simplexml_load_string($in['xml']);
if ($xml === false) {
    fwrite(STDERR, "simplexml_load_string() refused the input\n");
    exit(1);
}
$fromXml = [];
foreach ($xml->children() as $name => $node) {
    $fromXml[$name] = (string) $node;
}
echo json_encode(['serialize' => $unserialized, 'xml' => $fromXml], JSON_THROW_ON_ERROR);
