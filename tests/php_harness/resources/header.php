<?php
//harness stand-in for FusionPBX's header (layout close enough to look at in a screenshot)
	echo "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>".escape($document['title'] ?? '')."</title>\n";
	echo "<style>\n";
	echo "body { font-family: Arial, Helvetica, sans-serif; font-size: 13px; margin: 0; background: #f4f4f4; color: #333; }\n";
	echo ".menu { background: #1f2d3d; color: #fff; padding: 10px 20px; font-weight: bold; }\n";
	echo ".menu span { margin-right: 18px; opacity: .8; } .menu span.on { opacity: 1; border-bottom: 2px solid #5cb85c; }\n";
	echo ".main { background: #fff; margin: 15px; padding: 15px 20px; border-radius: 4px; box-shadow: 0 1px 3px #ccc; }\n";
	echo ".heading { font-size: 18px; margin-bottom: 10px; }\n";
	echo "table.list { width: 100%; border-collapse: collapse; margin: 6px 0 12px 0; }\n";
	echo "table.list th { text-align: left; background: #e8edf2; padding: 5px 7px; font-size: 12px; }\n";
	echo "table.list td { padding: 5px 7px; border-bottom: 1px solid #eee; vertical-align: top; }\n";
	echo ".btn { background: #fff; border: 1px solid #bbb; border-radius: 3px; padding: 3px 9px; cursor: pointer; }\n";
	echo ".fsguard_ip { font-family: monospace; } .fsguard_evidence { font-size: 11px; white-space: pre-wrap; max-width: 520px; }\n";
	echo ".action_bar .actions { float: right; } .action_bar .heading { float: left; } .btn-default.fsguard_tab_current { background: #e8edf2; }\n";
	echo ".message_positive { background: #dff0d8; padding: 8px; margin: 0 15px; } .message_negative { background: #f2dede; color: #a94442; padding: 8px; margin: 0 15px; } .message_alert { background: #fcf8e3; color: #8a6d3b; padding: 8px; margin: 0 15px; }\n";
	echo "</style></head><body>\n";
	echo "<div class='menu'><span>Home</span><span>Accounts</span><span>Dialplan</span><span>Applications</span><span class='on'>Status</span><span>Advanced</span></div>\n";
	//as FusionPBX's theme: the session's messages shown by display_message() (message::html());
	//the script draws them as boxes at the top, so a screenshot shows what the operator sees
	echo "<div id='message_container'></div>\n";
	echo "<script>\nfunction display_message(text, mood, delay) {\n";
	echo "\tvar box = document.createElement('div'); box.className = 'message_' + mood; box.innerHTML = text;\n";
	echo "\tdocument.getElementById('message_container').appendChild(box);\n}\n";
	echo message::html(true, "\t");
	echo "</script>\n";
	echo "<div class='main'>\n";
?>
