<?php
//harness: a request without a user is sent to the login page, as FusionPBX's check_auth.php does
	if (getenv('FSGUARD_TEST_GROUPS') === false) {
		echo "login required";
		exit;
	}
?>
