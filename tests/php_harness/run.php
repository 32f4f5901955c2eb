<?php
/*
	Render one page of the app under php-cli the way the web server would.
	usage: php run.php <web root> <page.php>; the request comes as JSON in FSGUARD_TEST_REQUEST:
	{"method": "GET"|"POST", "get": {...}, "post": {...}}
*/
	$web_root = $argv[1];
	$page = basename($argv[2]);
	$request = json_decode(getenv('FSGUARD_TEST_REQUEST') ?: '{}', true) ?: [];
	$_SERVER['REQUEST_METHOD'] = $request['method'] ?? 'GET';
	$_GET = $request['get'] ?? [];
	$_POST = $request['post'] ?? [];
	$_REQUEST = array_merge($_GET, $_POST);
	$_SERVER['PHP_SELF'] = '/app/fsguard/'.$page;
	$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'];
	$_SERVER['SCRIPT_FILENAME'] = $web_root.'/app/fsguard/'.$page;
	$_SERVER['DOCUMENT_ROOT'] = $web_root;
	chdir($web_root.'/app/fsguard');
	include $_SERVER['SCRIPT_FILENAME'];
?>
