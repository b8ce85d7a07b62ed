
file://@/small.ggufosplus
	w4a16-g64*@:J
fake.scenariosucceed