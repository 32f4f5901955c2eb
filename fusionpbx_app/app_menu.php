<?php

	//menu details (under Status; the installer adds the same entry as fsguard's own rows)
		$y = 0;
		$apps[$x]['menu'][$y]['title']['en-us'] = 'SIP Guard';
		$apps[$x]['menu'][$y]['title']['de-de'] = 'SIP-Schutz';
		$apps[$x]['menu'][$y]['title']['fr-fr'] = 'Protection SIP';
		$apps[$x]['menu'][$y]['title']['es-mx'] = 'Protección SIP';
		$apps[$x]['menu'][$y]['uuid'] = 'e6b0d9a1-3c2f-4e8b-b7d5-9f1a2c3e4d50';
		$apps[$x]['menu'][$y]['parent_uuid'] = '0438b504-8613-7887-c420-c837ffb20cb1';
		$apps[$x]['menu'][$y]['category'] = 'internal';
		$apps[$x]['menu'][$y]['icon'] = 'fa-solid fa-shield-halved';
		$apps[$x]['menu'][$y]['path'] = '/app/fsguard/fsguard_dashboard.php';
		$apps[$x]['menu'][$y]['order'] = '60';
		$apps[$x]['menu'][$y]['groups'][] = 'superadmin';

?>
