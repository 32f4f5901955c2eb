<?php
//harness stand-in for FusionPBX's footer
	echo "</div>\n</body></html>\n";
?>
