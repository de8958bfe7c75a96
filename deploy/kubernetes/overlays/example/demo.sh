#!/bin/sh
echo '# TYPE rtmon_demo_up gauge'
echo 'rtmon_demo_up 1'
