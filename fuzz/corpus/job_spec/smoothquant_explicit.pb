
I
Gsha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaasmoothquant
*'
!file://@/tiny/model.safetensors@2€@
Z€Ð¬ób