DROP TABLE network;
